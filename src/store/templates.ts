import type { TemplatesTable, TemplateVersionsTable } from "./schema.ts";
import { insertOrg, type OrgScope, orgTransaction, selectOrg, updateOrg } from "./scope.ts";

/**
 * Stored templates and their immutable versions (ADR 0011 §1), org-scoped. A template row
 * points at its current version; PUT adds a version and moves the pointer in one
 * transaction; DELETE only marks the template (its versions stay for the messages that
 * used them).
 */

export async function insertTemplate(
  scope: OrgScope,
  template: TemplatesTable,
  version: TemplateVersionsTable,
): Promise<void> {
  await orgTransaction(scope, async (tx) => {
    await insertOrg(tx, "templates", [template]).execute();
    await insertOrg(tx, "template_versions", [version]).execute();
  });
}

/** A live (not deleted) template. */
export async function findTemplate(scope: OrgScope, id: string): Promise<TemplatesTable | undefined> {
  return selectOrg(scope, "templates")
    .selectAll()
    .where("id", "=", id)
    .where("deleted_at", "is", null)
    .executeTakeFirst();
}

export async function findTemplateByName(scope: OrgScope, name: string): Promise<TemplatesTable | undefined> {
  return selectOrg(scope, "templates")
    .selectAll()
    .where("name", "=", name)
    .where("deleted_at", "is", null)
    .executeTakeFirst();
}

/** Any version of a template of this org, deleted or not (messages keep their version). */
export async function findVersion(
  scope: OrgScope,
  templateId: string,
  version: number,
): Promise<TemplateVersionsTable | undefined> {
  return selectOrg(scope, "template_versions")
    .selectAll()
    .where("template_id", "=", templateId)
    .where("version", "=", version)
    .executeTakeFirst();
}

/** Live templates, newest first, `before` an id (cursor). */
export async function listTemplates(
  scope: OrgScope,
  f: { limit: number; before?: string | undefined },
): Promise<TemplatesTable[]> {
  let q = selectOrg(scope, "templates").selectAll().where("deleted_at", "is", null);
  if (f.before !== undefined) q = q.where("id", "<", f.before);
  return q.orderBy("id", "desc").limit(f.limit).execute();
}

/**
 * Adds `version` as the template's next one, if the template is live and still at
 * `version.version - 1` (a concurrent update loses and gets false); renames it when `name` is given.
 */
export async function addVersion(
  scope: OrgScope,
  version: TemplateVersionsTable,
  name: string | undefined,
): Promise<boolean> {
  return orgTransaction(scope, async (tx) => {
    const moved = await updateOrg(tx, "templates")
      .set({
        current_version: version.version,
        updated_at: version.created_at,
        ...(name === undefined ? {} : { name }),
      })
      .where("id", "=", version.template_id)
      .where("current_version", "=", version.version - 1)
      .where("deleted_at", "is", null)
      .executeTakeFirst();
    if (Number(moved.numUpdatedRows) !== 1) return false;
    await insertOrg(tx, "template_versions", [version]).execute();
    return true;
  });
}

/** Marks a live template deleted; false when there was none. */
export async function markTemplateDeleted(scope: OrgScope, id: string, now: number): Promise<boolean> {
  const r = await updateOrg(scope, "templates")
    .set({ deleted_at: now, updated_at: now })
    .where("id", "=", id)
    .where("deleted_at", "is", null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}
