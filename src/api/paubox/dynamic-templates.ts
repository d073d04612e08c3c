import fastifyMultipart from "@fastify/multipart";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { requestActor } from "../../audit/entries.ts";
import { isSealpostError, SealpostError } from "../../core/errors.ts";
import type { OrgScope } from "../../store/scope.ts";
import {
  createTemplate,
  deleteTemplate,
  getTemplate,
  listTemplates,
  type TemplateDeps,
  type TemplateDetail,
  updateTemplate,
} from "../../templates/service.ts";
import { access } from "../access.ts";
import { principalOf } from "../authn-hook.ts";
import type { ApiDeps } from "../context.ts";
import { orgScope } from "../org-scope.ts";
import { readTemplateUpload, UPLOAD_LIMITS } from "./upload.ts";

/**
 * Paubox's dynamic templates (ADR 0011 §5) on sealpost's templates (§1): a Handlebars HTML
 * body uploaded as the official SDK uploads it (multipart `data[name]`, `data[body]`)
 * becomes a template whose HTML part is the body, whose text part is derived from it, and
 * whose subject part is the placeholder `{{paubox_subject}}`: Paubox takes the subject
 * from each templated message's `headers.subject`, and templated_messages passes it in
 * that variable. PATCH adds a version (sealpost keeps every version); DELETE marks the
 * template deleted. Answers take Paubox's shapes; an unknown id is a Paubox-shaped 404.
 */
export const PAUBOX_SUBJECT = "paubox_subject";
const SUBJECT_PART = `{{${PAUBOX_SUBJECT}}}`;
const TEMPLATE_ID = /^tpl_[0-9a-z]{26}$/;
/** Paubox lists every template at once; sealpost stops at this many (newest first). */
const MAX_LISTED = 1000;

export function templateDeps(deps: ApiDeps): TemplateDeps {
  return {
    db: deps.db,
    keyring: deps.keyring,
    clock: deps.clock,
    audit: deps.audit,
    templates: deps.submit.templates,
  };
}

export function templateNotFound(): SealpostError {
  return new SealpostError("not_found", { detail: "Template was not found." });
}

/** A template error of the service, named as the upload's fields. */
function inUploadTerms(err: unknown): unknown {
  if (!isSealpostError(err) || err.field === undefined) return err;
  const field = err.field === "name" ? "data[name]" : "data[body]";
  return new SealpostError(err.code, { field, detail: err.detail ?? `${field} is not valid.`, cause: err });
}

function idOf(request: FastifyRequest): string {
  const id = (request.params as { id?: unknown }).id;
  if (typeof id !== "string" || !TEMPLATE_ID.test(id)) throw templateNotFound();
  return id;
}

async function current(deps: TemplateDeps, scope: OrgScope, id: string): Promise<TemplateDetail> {
  try {
    return await getTemplate(deps, scope, id);
  } catch (err) {
    if (isSealpostError(err) && err.code === "not_found") throw templateNotFound();
    throw err;
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

function summary(scope: OrgScope, t: TemplateDetail["template"]) {
  return {
    id: t.id,
    name: t.name,
    api_customer_id: scope.orgId,
    created_at: iso(t.created_at),
    updated_at: iso(t.updated_at),
  };
}

function params(name: string, file: { filename: string; contentType: string } | null, body: boolean) {
  if (!body) return { name };
  return {
    name,
    body: { original_filename: file?.filename ?? null, content_type: file?.contentType ?? "text/html" },
  };
}

function templateRoutes(
  scope: FastifyInstance,
  deps: ApiDeps,
  doc: (s: Record<string, unknown>) => Record<string, unknown>,
): void {
  const tdeps = templateDeps(deps);
  const manage = access({ scope: "templates:manage", scheme: "paubox" });
  const idParam = {
    type: "object",
    properties: { id: { type: "string", description: "The template id (`tpl_…`)." } },
  };
  const upload = {
    type: "object",
    properties: {
      "data[name]": { type: "string" },
      "data[body]": { type: "string", format: "binary", description: "The Handlebars HTML (.hbs)." },
    },
  };

  scope.post(
    "/dynamic_templates",
    {
      config: manage,
      schema: doc({
        summary: "Paubox: create a dynamic template",
        description:
          "Multipart `data[name]` and `data[body]` (Handlebars HTML). The subject comes from each templated message's `headers.subject`.",
        consumes: ["multipart/form-data"],
        body: upload,
      }),
    },
    async (request) => {
      const up = await readTemplateUpload(request);
      if (up.name === undefined)
        throw new SealpostError("missing_field", { field: "data[name]", detail: "data[name] is required." });
      if (up.body === undefined)
        throw new SealpostError("missing_field", { field: "data[body]", detail: "data[body] is required." });
      const created = await createTemplate(
        tdeps,
        orgScope(deps, request),
        { name: up.name, subject: SUBJECT_PART, html: up.body },
        requestActor(principalOf(request), request),
      ).catch((err: unknown) => {
        throw inUploadTerms(err);
      });
      const name = created.template.name;
      return {
        message: `Template ${name} created!`,
        params: params(name, up.file, true),
        id: created.template.id,
      };
    },
  );

  scope.get(
    "/dynamic_templates",
    {
      config: manage,
      schema: doc({
        summary: "Paubox: list dynamic templates",
        description: `Every live template of the org (at most ${MAX_LISTED}, newest first), as a JSON array.`,
      }),
    },
    async (request) => {
      const org = orgScope(deps, request);
      const out: ReturnType<typeof summary>[] = [];
      let before: string | undefined;
      while (out.length < MAX_LISTED) {
        const page = await listTemplates(org, { limit: 100, before });
        out.push(...page.map((t) => summary(org, t)));
        if (page.length < 100) break;
        before = page[page.length - 1]?.id;
      }
      return out.slice(0, MAX_LISTED);
    },
  );

  scope.get(
    "/dynamic_templates/:id",
    { config: manage, schema: doc({ summary: "Paubox: get a dynamic template", params: idParam }) },
    async (request) => {
      const org = orgScope(deps, request);
      const t = await current(tdeps, org, idOf(request));
      return { ...summary(org, t.template), body: t.parts.html ?? t.parts.text ?? "", metadata: {} };
    },
  );

  scope.patch(
    "/dynamic_templates/:id",
    {
      config: manage,
      schema: doc({
        summary: "Paubox: update a dynamic template",
        description:
          "A new version with the new `data[body]` and/or `data[name]`; earlier versions stay for the messages that used them.",
        consumes: ["multipart/form-data"],
        params: idParam,
        body: upload,
      }),
    },
    async (request) => {
      const org = orgScope(deps, request);
      const id = idOf(request);
      const up = await readTemplateUpload(request);
      if (up.name === undefined && up.body === undefined)
        throw new SealpostError("missing_field", {
          field: "data",
          detail: "Give data[name], data[body] or both.",
        });
      const was = await current(tdeps, org, id);
      const updated = await updateTemplate(
        tdeps,
        org,
        id,
        {
          ...(up.name === undefined ? {} : { name: up.name }),
          subject: was.parts.subject,
          // A new body: its text part is derived again.
          text: up.body === undefined ? was.parts.text : null,
          html: up.body ?? was.parts.html,
          phi_fields: was.phiFields,
        },
        requestActor(principalOf(request), request),
      ).catch((err: unknown) => {
        throw isSealpostError(err) && err.code === "not_found" ? templateNotFound() : inUploadTerms(err);
      });
      const name = updated.template.name;
      return { message: `Template ${name} updated!`, params: params(name, up.file, up.body !== undefined) };
    },
  );

  scope.delete(
    "/dynamic_templates/:id",
    { config: manage, schema: doc({ summary: "Paubox: delete a dynamic template", params: idParam }) },
    async (request) => {
      const org = orgScope(deps, request);
      const id = idOf(request);
      const was = await current(tdeps, org, id);
      await deleteTemplate(tdeps, org, id, requestActor(principalOf(request), request)).catch(
        (err: unknown) => {
          throw isSealpostError(err) && err.code === "not_found" ? templateNotFound() : err;
        },
      );
      return { message: `Template ${was.template.name} deleted!` };
    },
  );
}

/**
 * The dynamic-template routes in a scope of their own, the only one where multipart bodies
 * are parsed (with the upload's limits). The scope inherits the Paubox error handler.
 */
export async function registerDynamicTemplates(
  scope: FastifyInstance,
  deps: ApiDeps,
  doc: (s: Record<string, unknown>) => Record<string, unknown>,
): Promise<void> {
  await scope.register(async (uploads) => {
    await uploads.register(fastifyMultipart, { limits: UPLOAD_LIMITS, throwFileSizeLimit: true });
    templateRoutes(uploads, deps, doc);
  });
}
