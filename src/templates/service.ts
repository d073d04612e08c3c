/**
 * Templates (ADR 0011 §1): create, update (a new immutable version), delete (marked; the
 * versions stay for the messages that used them), read, list and render, for the REST
 * routes, the submit step and the Paubox dynamic templates. Content is sealed with the org
 * key (AAD `tpl:<id>:<version>`); changes are audited with ids and version numbers only.
 */
import { type AuditActor, changeEntry } from "../audit/entries.ts";
import type { AuditLog } from "../audit/types.ts";
import type { Clock } from "../core/clock.ts";
import { SealpostError } from "../core/errors.ts";
import { isUniqueViolation } from "../core/idempotency.ts";
import { newId } from "../core/ids.ts";
import type { Keyring } from "../core/keyring.ts";
import type { Db } from "../store/db.ts";
import type { TemplatesTable, TemplateVersionsTable } from "../store/schema.ts";
import type { OrgScope } from "../store/scope.ts";
import * as store from "../store/templates.ts";
import { openParts, sealParts } from "./content.ts";
import {
  type CachedVersion,
  compileTemplate,
  type RenderedParts,
  renderTemplate,
  type TemplateCache,
  type TemplateData,
  type TemplateParts,
} from "./engine.ts";
import { checkTemplateInput } from "./validate.ts";

export interface TemplateDeps {
  db: Db;
  keyring: Keyring;
  clock: Clock;
  audit: AuditLog;
  templates: TemplateCache;
}

/** What create and update take; every field is checked (src/templates/validate.ts). */
export interface TemplateBody {
  readonly name?: unknown;
  readonly subject?: unknown;
  readonly text?: unknown;
  readonly html?: unknown;
  readonly phi_fields?: unknown;
}

/** A template at one version, its parts opened. */
export interface TemplateDetail {
  readonly template: TemplatesTable;
  readonly version: number;
  readonly parts: TemplateParts;
  readonly phiFields: readonly string[];
  readonly versionCreatedAt: number;
}

const notFound = () => new SealpostError("not_found");

function nameTaken(): SealpostError {
  return new SealpostError("template_invalid", {
    field: "name",
    detail: "The name is already used by another template of this organization.",
  });
}

async function versionRow(
  deps: TemplateDeps,
  scope: OrgScope,
  templateId: string,
  version: number,
  checked: { parts: TemplateParts; phiFields: readonly string[] },
  actor: AuditActor,
  now: number,
): Promise<TemplateVersionsTable> {
  return {
    template_id: templateId,
    version,
    org_id: scope.orgId,
    content: await sealParts(deps.keyring, scope.orgId, templateId, version, checked.parts),
    phi_fields: JSON.stringify(checked.phiFields),
    created_at: now,
    created_by: actor.actorId ?? actor.actorType,
  };
}

async function detailOf(
  deps: TemplateDeps,
  scope: OrgScope,
  t: TemplatesTable,
  v: TemplateVersionsTable,
): Promise<TemplateDetail> {
  return {
    template: t,
    version: v.version,
    parts: await openParts(deps.keyring, scope.orgId, t.id, v.version, v.content),
    phiFields: JSON.parse(v.phi_fields) as string[],
    versionCreatedAt: v.created_at,
  };
}

export async function createTemplate(
  deps: TemplateDeps,
  scope: OrgScope,
  body: TemplateBody,
  actor: AuditActor,
): Promise<TemplateDetail> {
  const checked = checkTemplateInput({ ...body }, { nameRequired: true });
  const name = checked.name ?? "";
  if ((await store.findTemplateByName(scope, name)) !== undefined) throw nameTaken();
  const now = deps.clock.now();
  const template: TemplatesTable = {
    id: newId("tpl", now),
    org_id: scope.orgId,
    name,
    current_version: 1,
    created_at: now,
    updated_at: now,
    deleted_at: null,
  };
  const version = await versionRow(deps, scope, template.id, 1, checked, actor, now);
  try {
    await store.insertTemplate(scope, template, version);
  } catch (err) {
    if (isUniqueViolation(err)) throw nameTaken();
    throw err;
  }
  await deps.audit.recordNow(
    changeEntry(actor, scope.orgId, "template.create", { type: "template", id: template.id }, { version: 1 }),
  );
  return { template, version: 1, parts: checked.parts, phiFields: checked.phiFields, versionCreatedAt: now };
}

/** A new version with the given parts (all of them: a version is whole); `name` renames. */
export async function updateTemplate(
  deps: TemplateDeps,
  scope: OrgScope,
  id: string,
  body: TemplateBody,
  actor: AuditActor,
): Promise<TemplateDetail> {
  const checked = checkTemplateInput({ ...body }, { nameRequired: false });
  const now = deps.clock.now();
  // A concurrent update takes the next number first: read again and take the one after.
  for (let attempt = 0; attempt < 5; attempt++) {
    const current = await store.findTemplate(scope, id);
    if (current === undefined) throw notFound();
    const rename = checked.name !== undefined && checked.name !== current.name ? checked.name : undefined;
    if (rename !== undefined && (await store.findTemplateByName(scope, rename)) !== undefined)
      throw nameTaken();
    const next = current.current_version + 1;
    const version = await versionRow(deps, scope, id, next, checked, actor, now);
    try {
      if (!(await store.addVersion(scope, version, rename))) continue;
    } catch (err) {
      if (isUniqueViolation(err)) throw nameTaken();
      throw err;
    }
    await deps.audit.recordNow(
      changeEntry(actor, scope.orgId, "template.update", { type: "template", id }, { version: next }),
    );
    const template = { ...current, current_version: next, updated_at: now, name: rename ?? current.name };
    return {
      template,
      version: next,
      parts: checked.parts,
      phiFields: checked.phiFields,
      versionCreatedAt: now,
    };
  }
  throw new Error("template update kept losing to concurrent updates");
}

export async function deleteTemplate(
  deps: TemplateDeps,
  scope: OrgScope,
  id: string,
  actor: AuditActor,
): Promise<void> {
  if (!(await store.markTemplateDeleted(scope, id, deps.clock.now()))) throw notFound();
  await deps.audit.recordNow(changeEntry(actor, scope.orgId, "template.delete", { type: "template", id }));
}

/** A live template at its current version, or at `version`. */
export async function getTemplate(
  deps: TemplateDeps,
  scope: OrgScope,
  id: string,
  version?: number,
): Promise<TemplateDetail> {
  const t = await store.findTemplate(scope, id);
  if (t === undefined) throw notFound();
  const v = await store.findVersion(scope, id, version ?? t.current_version);
  if (v === undefined) throw notFound();
  return detailOf(deps, scope, t, v);
}

/** A live template by its name (the Paubox dynamic templates address them by name). */
export async function findTemplateByName(
  deps: TemplateDeps,
  scope: OrgScope,
  name: string,
): Promise<TemplateDetail | undefined> {
  const t = await store.findTemplateByName(scope, name);
  if (t === undefined) return undefined;
  const v = await store.findVersion(scope, t.id, t.current_version);
  return v === undefined ? undefined : detailOf(deps, scope, t, v);
}

export function listTemplates(
  scope: OrgScope,
  page: { limit: number; before?: string | undefined },
): Promise<TemplatesTable[]> {
  return store.listTemplates(scope, page);
}

/**
 * A live template's version compiled (from the cache when it was compiled before), or
 * undefined when the template or the version does not exist, or the template is deleted.
 */
export async function compiledVersion(
  deps: Pick<TemplateDeps, "keyring" | "templates">,
  scope: OrgScope,
  id: string,
  version?: number,
): Promise<(CachedVersion & { version: number }) | undefined> {
  const t = await store.findTemplate(scope, id);
  if (t === undefined) return undefined;
  const n = version ?? t.current_version;
  const hit = deps.templates.get(id, n);
  if (hit !== undefined) return { ...hit, version: n };
  const v = await store.findVersion(scope, id, n);
  if (v === undefined) return undefined;
  const parts = await openParts(deps.keyring, scope.orgId, id, n, v.content);
  const entry: CachedVersion = {
    compiled: compileTemplate(parts),
    phiFields: JSON.parse(v.phi_fields) as string[],
  };
  deps.templates.set(id, n, entry);
  return { ...entry, version: n };
}

/** Renders a live template (by id, or by name with `{ name }`) with `data`; nothing is stored. */
export async function renderStored(
  deps: Pick<TemplateDeps, "keyring" | "templates">,
  scope: OrgScope,
  ref: { id: string } | { name: string },
  data: TemplateData,
  version?: number,
): Promise<RenderedParts & { id: string; version: number }> {
  const id = "id" in ref ? ref.id : (await store.findTemplateByName(scope, ref.name))?.id;
  const found = id === undefined ? undefined : await compiledVersion(deps, scope, id, version);
  if (id === undefined || found === undefined) throw notFound();
  return { ...renderTemplate(found.compiled, data), id, version: found.version };
}
