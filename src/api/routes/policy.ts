import type { FastifyInstance } from "fastify";
import { checkPolicyChange, getPolicy, POLICY_FIELDS, setPolicy } from "../../policy/settings.ts";
import type { OrgPolicy } from "../../policy/types.ts";
import { access } from "../access.ts";
import type { ApiDeps } from "../context.ts";
import { orgScope } from "../org-scope.ts";
import { objectBody } from "./body.ts";
import { requestActor } from "./retention.ts";

/**
 * The caller's org policy (ADR 0010 §1), scope admin: PHI in subjects, forced encryption,
 * the portal and its notice. GET shows every field (defaults filled in); PUT changes any
 * subset. Changes are audited and take effect on every thread within the cache's 5 s.
 */
const fields = {
  subject_phi: { type: "string", enum: ["reject", "redact"] },
  force_mode: { type: ["string", "null"], enum: ["tls", "portal", "smime", "pgp", null] },
  portal: { type: "string", enum: ["allow", "forbid"] },
  require_verified_certs: { type: "boolean" },
  allow_non_tls: { type: "boolean" },
  portal_link_days: { type: "integer", minimum: 1, maximum: 90 },
  portal_code_attempts: { type: "integer", minimum: 1, maximum: 20 },
  portal_lock_minutes: { type: "integer", minimum: 1, maximum: 1440 },
  notice_from_name: { type: "string", minLength: 1, maxLength: 200 },
  notice_subject: { type: "string", minLength: 1, maxLength: 200 },
  notice_text: { type: "string", minLength: 1, maxLength: 2000 },
  track_opens: { type: "boolean", description: "Opens pixel in messages without PHI (ADR 0011 §6)." },
} as const;

const policySchema = {
  type: "object",
  properties: { object: { type: "string", enum: ["policy"] }, ...fields },
} as const;

function view(p: OrgPolicy) {
  return {
    object: "policy" as const,
    subject_phi: p.subject_phi,
    force_mode: p.force_mode,
    portal: p.portal,
    require_verified_certs: p.require_verified_certs,
    allow_non_tls: p.allow_non_tls,
    portal_link_days: p.portal_link_days,
    portal_code_attempts: p.portal_code_attempts,
    portal_lock_minutes: p.portal_lock_minutes,
    notice_from_name: p.notice_from_name,
    notice_subject: p.notice_subject,
    notice_text: p.notice_text,
    track_opens: p.track_opens,
  };
}

export function registerPolicyRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.get(
    "/v1/policy",
    {
      config: access({ scope: "admin" }),
      schema: {
        summary: "The org's encryption, PHI and portal policy",
        tags: ["policy"],
        response: { 200: policySchema },
      },
    },
    async (request) => view(await getPolicy(deps.db, orgScope(deps, request).orgId)),
  );

  app.put(
    "/v1/policy",
    {
      config: access({ scope: "admin" }),
      schema: {
        summary: "Change the org's policy",
        description:
          "Any subset of the fields. The notice wording (notice_from_name and notice_subject 1-200 " +
          "characters on one line, notice_text 1-2000) must not contain PHI (422 phi_in_policy). " +
          "The change is recorded in the audit log and applies to new messages within 5 seconds.",
        tags: ["policy"],
        body: { type: "object", additionalProperties: false, properties: fields },
        response: { 200: policySchema },
      },
    },
    async (request) => {
      const change = checkPolicyChange(objectBody(request.body, POLICY_FIELDS));
      const orgId = orgScope(deps, request).orgId;
      const store = { db: deps.db, audit: deps.audit, policies: deps.submit.policies };
      return view(await setPolicy(store, orgId, change, requestActor(request)));
    },
  );
}
