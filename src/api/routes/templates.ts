import type { FastifyInstance, FastifyRequest } from "fastify";
import { SealpostError } from "../../core/errors.ts";
import { isId } from "../../core/ids.ts";
import { isTemplateData, TEMPLATE_DATA_LIMITS } from "../../core/validate.ts";
import type { TemplatesTable } from "../../store/schema.ts";
import {
  createTemplate,
  deleteTemplate,
  getTemplate,
  listTemplates,
  renderStored,
  type TemplateDeps,
  type TemplateDetail,
  updateTemplate,
} from "../../templates/service.ts";
import { access } from "../access.ts";
import type { ApiDeps } from "../context.ts";
import { orgScope } from "../org-scope.ts";
import { pageOf, pageQuery } from "../pagination.ts";
import { objectBody } from "./body.ts";
import { requestActor } from "./retention.ts";
import { idParam } from "./schemas.ts";

/**
 * Stored templates (ADR 0011 §1), scope templates:manage: create, list, read (the current
 * version or any one), update (a new version), delete, and render a preview (nothing is
 * stored). Bodies name fields and rules on error, never a value.
 */

const FIELDS = ["name", "subject", "text", "html", "phi_fields"] as const;

const iso = (ms: number) => new Date(ms).toISOString();

function summaryView(t: TemplatesTable) {
  return {
    object: "template" as const,
    id: t.id,
    name: t.name,
    version: t.current_version,
    created_at: iso(t.created_at),
    updated_at: iso(t.updated_at),
  };
}

function detailView(d: TemplateDetail) {
  return {
    ...summaryView(d.template),
    version: d.version,
    current_version: d.template.current_version,
    version_created_at: iso(d.versionCreatedAt),
    subject: d.parts.subject,
    text: d.parts.text,
    html: d.parts.html,
    phi_fields: d.phiFields,
  };
}

/** A template id from the path; anything else is simply not found. */
function templateId(request: FastifyRequest): string {
  const { id } = request.params as { id: string };
  if (!isId(id, "tpl")) throw new SealpostError("not_found");
  return id;
}

function versionParam(raw: unknown, field: string): number {
  const n =
    typeof raw === "number"
      ? raw
      : typeof raw === "string" && /^\d{1,10}$/.test(raw)
        ? Number(raw)
        : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > 2 ** 31)
    throw new SealpostError("invalid_value", {
      field,
      detail: `${field} must be a version number (1, 2, …).`,
    });
  return n;
}

const bodySchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    name: {
      type: "string",
      minLength: 1,
      maxLength: 100,
      description: "Unique among the org's live templates.",
    },
    subject: {
      type: "string",
      maxLength: 998,
      description: "Handlebars; one line; no PHI in its text and no PHI-marked variable.",
    },
    text: {
      type: "string",
      description: "Handlebars, rendered as plain text; derived from html when missing.",
    },
    html: { type: "string", description: "Handlebars; every {{value}} is HTML-escaped; {{{…}}} is refused." },
    phi_fields: {
      type: "array",
      items: { type: "string" },
      maxItems: 100,
      description: "Data field names (dotted paths) whose values are PHI wherever they appear.",
    },
  },
} as const;

const TAGS = ["templates"];

export function registerTemplateRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const svc: TemplateDeps = {
    db: deps.db,
    keyring: deps.keyring,
    clock: deps.clock,
    audit: deps.audit,
    templates: deps.submit.templates,
  };
  const manage = access({ scope: "templates:manage" });

  app.post(
    "/v1/templates",
    {
      config: manage,
      schema: {
        summary: "Create a template",
        description: "Checks every part on save (422 template_invalid naming the part). Audited.",
        tags: TAGS,
        body: { ...bodySchema, required: ["name", "subject"] },
      },
    },
    async (request, reply) => {
      const body = objectBody(request.body, FIELDS);
      const created = await createTemplate(svc, orgScope(deps, request), body, requestActor(request));
      return reply.code(201).send(detailView(created));
    },
  );

  app.get(
    "/v1/templates",
    {
      config: manage,
      schema: {
        summary: "List the org's templates",
        description: "Newest first, without their parts; cursor pagination.",
        tags: TAGS,
        querystring: {
          type: "object",
          properties: { limit: { type: "integer", minimum: 1, maximum: 100 }, cursor: { type: "string" } },
        },
      },
    },
    async (request) => {
      const { limit, before } = pageQuery(request.query as { limit?: unknown; cursor?: unknown }, "tpl");
      const rows = await listTemplates(orgScope(deps, request), { limit: limit + 1, before });
      const { page, next } = pageOf(rows, limit, (t) => t.id);
      return { object: "list", data: page.map(summaryView), next_cursor: next };
    },
  );

  app.get(
    "/v1/templates/:id",
    {
      config: manage,
      schema: { summary: "A template at its current version, with its parts", tags: TAGS, params: idParam },
    },
    async (request) => detailView(await getTemplate(svc, orgScope(deps, request), templateId(request))),
  );

  app.get(
    "/v1/templates/:id/versions/:version",
    {
      config: manage,
      schema: {
        summary: "One version of a template",
        tags: TAGS,
        params: {
          type: "object",
          required: ["id", "version"],
          properties: { id: { type: "string" }, version: { type: "integer", minimum: 1 } },
        },
      },
    },
    async (request) => {
      const id = templateId(request);
      const raw = (request.params as { version: unknown }).version;
      const version = typeof raw === "string" && /^\d{1,10}$/.test(raw) ? Number(raw) : 0;
      if (version < 1) throw new SealpostError("not_found");
      return detailView(await getTemplate(svc, orgScope(deps, request), id, version));
    },
  );

  app.put(
    "/v1/templates/:id",
    {
      config: manage,
      schema: {
        summary: "Change a template (adds a version)",
        description:
          "The body is a whole version (subject and text or html); name renames. Messages keep the version they used. Audited.",
        tags: TAGS,
        params: idParam,
        body: { ...bodySchema, required: ["subject"] },
      },
    },
    async (request) => {
      const id = templateId(request);
      const body = objectBody(request.body, FIELDS);
      return detailView(await updateTemplate(svc, orgScope(deps, request), id, body, requestActor(request)));
    },
  );

  app.delete(
    "/v1/templates/:id",
    {
      config: manage,
      schema: {
        summary: "Delete a template",
        description: "404 afterwards; its versions are kept for the messages that used them. Audited.",
        tags: TAGS,
        params: idParam,
      },
    },
    async (request, reply) => {
      await deleteTemplate(svc, orgScope(deps, request), templateId(request), requestActor(request));
      return reply.code(204).send();
    },
  );

  app.post(
    "/v1/templates/:id/render",
    {
      config: manage,
      schema: {
        summary: "Render a template with data (a preview; nothing is stored)",
        description: "A missing variable is 422 template_variable_missing naming it.",
        tags: TAGS,
        params: idParam,
        body: {
          type: "object",
          additionalProperties: false,
          properties: { data: { type: "object" }, version: { type: "integer", minimum: 1 } },
        },
      },
    },
    async (request) => {
      const id = templateId(request);
      const body = objectBody(request.body, ["data", "version"]);
      const data = body.data ?? {};
      if (!isTemplateData(data))
        throw new SealpostError("invalid_value", {
          field: "data",
          detail: `data must be an object of strings, numbers, booleans, null, objects and lists (at most ${TEMPLATE_DATA_LIMITS.depth} deep).`,
        });
      const version = body.version === undefined ? undefined : versionParam(body.version, "version");
      const out = await renderStored(svc, orgScope(deps, request), { id }, data, version);
      return {
        object: "rendered_template",
        id: out.id,
        version: out.version,
        subject: out.subject,
        text: out.text,
        html: out.html,
      };
    },
  );
}
