import type { SandboxTable } from "./schema.ts";
import { type OrgScope, selectOrg } from "./scope.ts";

/** The sandbox inbox: what test-mode messages would have delivered, per delivery. */
export async function listSandbox(
  scope: OrgScope,
  before: string | undefined,
  limit: number,
): Promise<SandboxTable[]> {
  let q = selectOrg(scope, "sandbox_messages").selectAll();
  if (before !== undefined) q = q.where("delivery_id", "<", before);
  return q.orderBy("delivery_id", "desc").limit(limit).execute();
}

export async function findSandbox(scope: OrgScope, deliveryId: string): Promise<SandboxTable | undefined> {
  return selectOrg(scope, "sandbox_messages")
    .selectAll()
    .where("delivery_id", "=", deliveryId)
    .executeTakeFirst();
}
