import { type Kysely, type Migration, Migrator, sql } from "kysely";
import type { Db, Dialect } from "./db.ts";

/**
 * Schema migrations, in order. Never edit a released migration: add a new one.
 * Written with Kysely's schema builder so the same list runs on SQLite and PostgreSQL;
 * only the binary column type differs.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists.
type AnyDb = Kysely<any>;

function blob(dialect: Dialect): "bytea" | "blob" {
  return dialect === "postgres" ? "bytea" : "blob";
}

function initial(dialect: Dialect): Migration {
  const bin = blob(dialect);
  return {
    async up(db: AnyDb) {
      await db.schema
        .createTable("orgs")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("name", "text", (c) => c.notNull().unique())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("org_keys")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("org_id", "text", (c) => c.notNull().references("orgs.id"))
        .addColumn("purpose", "text", (c) => c.notNull())
        .addColumn("wrapped", bin, (c) => c.notNull())
        .addColumn("master_key_id", "text", (c) => c.notNull())
        .addColumn("active", "integer", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("org_keys_org").on("org_keys").columns(["org_id", "purpose"]).execute();
      await db.schema
        .createTable("api_keys")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("org_id", "text", (c) => c.notNull().references("orgs.id"))
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("secret_hash", "text", (c) => c.notNull().unique())
        .addColumn("scopes", "text", (c) => c.notNull())
        .addColumn("mode", "text", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("expires_at", "bigint")
        .addColumn("revoked_at", "bigint")
        .execute();
      await db.schema
        .createTable("messages")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("org_id", "text", (c) => c.notNull().references("orgs.id"))
        .addColumn("mode", "text", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("api_key_id", "text")
        .addColumn("from_domain", "text", (c) => c.notNull())
        .addColumn("encryption", "text", (c) => c.notNull())
        .addColumn("allow_non_tls", "integer", (c) => c.notNull())
        .addColumn("tags", "text", (c) => c.notNull())
        .addColumn("recipient_count", "integer", (c) => c.notNull())
        .addColumn("attachment_count", "integer", (c) => c.notNull())
        .addColumn("size_bytes", "bigint", (c) => c.notNull())
        .addColumn("content", bin)
        .addColumn("data_key", bin)
        .addColumn("data_key_id", "text", (c) => c.notNull())
        .addColumn("idempotency_hash", "text")
        .addColumn("request_hash", "text")
        .execute();
      await db.schema
        .createIndex("messages_idempotency")
        .on("messages")
        .columns(["org_id", "idempotency_hash"])
        .unique()
        .where("idempotency_hash", "is not", null)
        .execute();
      await db.schema.createIndex("messages_org_id").on("messages").columns(["org_id", "id"]).execute();
      await db.schema
        .createTable("attachments")
        .addColumn("message_id", "text", (c) => c.notNull().references("messages.id"))
        .addColumn("idx", "integer", (c) => c.notNull())
        .addColumn("content", bin, (c) => c.notNull())
        .addPrimaryKeyConstraint("attachments_pk", ["message_id", "idx"])
        .execute();
      await db.schema
        .createTable("deliveries")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("message_id", "text", (c) => c.notNull().references("messages.id"))
        .addColumn("org_id", "text", (c) => c.notNull())
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("recipient", bin, (c) => c.notNull())
        .addColumn("recipient_bidx", "text", (c) => c.notNull())
        .addColumn("domain_bidx", "text", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("due_at", "bigint")
        .addColumn("lease_owner", "text")
        .addColumn("attempts", "integer", (c) => c.notNull())
        .addColumn("expires_at", "bigint", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .addColumn("last_reason", "text")
        .addColumn("evidence", "text")
        .execute();
      // The queue: only rows still owed work are in this index, so a large finished
      // history does not slow the claim.
      await db.schema
        .createIndex("deliveries_due")
        .on("deliveries")
        .column("due_at")
        .where("due_at", "is not", null)
        .execute();
      await db.schema.createIndex("deliveries_message").on("deliveries").column("message_id").execute();
      await db.schema
        .createIndex("deliveries_recipient")
        .on("deliveries")
        .columns(["org_id", "recipient_bidx"])
        .execute();
      await db.schema
        .createTable("events")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("org_id", "text", (c) => c.notNull())
        .addColumn("message_id", "text", (c) => c.notNull())
        .addColumn("delivery_id", "text")
        .addColumn("type", "text", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("details", "text", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("events_message").on("events").columns(["message_id", "id"]).execute();
      await db.schema
        .createTable("sandbox_messages")
        .addColumn("delivery_id", "text", (c) => c.primaryKey())
        .addColumn("org_id", "text", (c) => c.notNull())
        .addColumn("message_id", "text", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("raw", bin, (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("sandbox_org")
        .on("sandbox_messages")
        .columns(["org_id", "delivery_id"])
        .execute();
    },
  };
}

/** Sending domains with DKIM keys, suppressions, the MTA-STS policy cache (issue: delivery engine). */
function deliveryEngine(dialect: Dialect): Migration {
  const bin = blob(dialect);
  return {
    async up(db: AnyDb) {
      await db.schema
        .createTable("domains")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("org_id", "text", (c) => c.notNull().references("orgs.id"))
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("verified_at", "bigint")
        .addColumn("last_check", "text")
        .addColumn("mta_sts_id", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("domains_org_name")
        .on("domains")
        .columns(["org_id", "name"])
        .unique()
        .execute();
      await db.schema
        .createTable("dkim_keys")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("org_id", "text", (c) => c.notNull())
        .addColumn("domain_id", "text", (c) => c.notNull().references("domains.id"))
        .addColumn("selector", "text", (c) => c.notNull())
        .addColumn("algorithm", "text", (c) => c.notNull())
        .addColumn("public_key", "text", (c) => c.notNull())
        .addColumn("private_key", bin, (c) => c.notNull())
        .addColumn("wrapped_by", "text", (c) => c.notNull())
        .addColumn("active", "integer", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("retired_at", "bigint")
        .execute();
      await db.schema
        .createIndex("dkim_keys_domain")
        .on("dkim_keys")
        .columns(["domain_id", "active"])
        .execute();
      await db.schema
        .createTable("suppressions")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("org_id", "text", (c) => c.notNull())
        .addColumn("address_bidx", "text", (c) => c.notNull())
        .addColumn("address", bin, (c) => c.notNull())
        .addColumn("wrapped_by", "text", (c) => c.notNull())
        .addColumn("reason", "text", (c) => c.notNull())
        .addColumn("delivery_id", "text")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("suppressions_org_address")
        .on("suppressions")
        .columns(["org_id", "address_bidx"])
        .unique()
        .execute();
      await db.schema
        .createTable("mta_sts_policies")
        .addColumn("domain", "text", (c) => c.primaryKey())
        .addColumn("policy_id", "text", (c) => c.notNull())
        .addColumn("mode", "text", (c) => c.notNull())
        .addColumn("mx", "text", (c) => c.notNull())
        .addColumn("max_age", "bigint", (c) => c.notNull())
        .addColumn("fetched_at", "bigint", (c) => c.notNull())
        .addColumn("expires_at", "bigint", (c) => c.notNull())
        .execute();
    },
  };
}

/** Lease renewal looks rows up by owner; only leased rows are in this index. */
const leaseIndex: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createIndex("deliveries_lease")
      .on("deliveries")
      .column("lease_owner")
      .where("lease_owner", "is not", null)
      .execute();
  },
};

/** Scheduled sending (messages.send_at) and batch idempotency records (ADR 0004). */
const batchAndSchedule: Migration = {
  async up(db: AnyDb) {
    await db.schema.alterTable("messages").addColumn("send_at", "bigint").execute();
    await db.schema
      .createTable("batches")
      .addColumn("org_id", "text", (c) => c.notNull().references("orgs.id"))
      .addColumn("idempotency_hash", "text", (c) => c.notNull())
      .addColumn("request_hash", "text", (c) => c.notNull())
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("results", "text", (c) => c.notNull())
      .addPrimaryKeyConstraint("batches_pk", ["org_id", "idempotency_hash"])
      .execute();
  },
};

/**
 * Attachments in sealed parts of 1 MiB (ADR 0006). Existing single-blob rows become
 * part 0 as they are: part 0's AAD is the one they were sealed with.
 */
function attachmentParts(dialect: Dialect): Migration {
  return {
    async up(db: AnyDb) {
      await db.schema
        .createTable("attachment_parts")
        .addColumn("message_id", "text", (c) => c.notNull().references("messages.id"))
        .addColumn("idx", "integer", (c) => c.notNull())
        .addColumn("seq", "integer", (c) => c.notNull())
        .addColumn("content", blob(dialect), (c) => c.notNull())
        .addPrimaryKeyConstraint("attachment_parts_pk", ["message_id", "idx", "seq"])
        .execute();
      await sql`insert into attachment_parts (message_id, idx, seq, content)
        select message_id, idx, 0, content from attachments`.execute(db);
      await db.schema.dropTable("attachments").execute();
    },
  };
}

/**
 * Access control and tenancy (ADR 0008): instance keys (the key-hash pepper and the JWT
 * signing keys), the new API-key columns, HMAC nonces, org rate limits, and the org of
 * every attachment part. Rate-limit and lockout counters are tables on PostgreSQL only,
 * UNLOGGED (a crash merely resets them); on SQLite they live in memory.
 */
function accessControl(dialect: Dialect): Migration {
  const bin = blob(dialect);
  return {
    async up(db: AnyDb) {
      await db.schema
        .createTable("instance_keys")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("purpose", "text", (c) => c.notNull())
        .addColumn("wrapped", bin, (c) => c.notNull())
        .addColumn("master_key_id", "text", (c) => c.notNull())
        .addColumn("public_jwk", "text")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("retired_at", "bigint")
        .execute();
      await db.schema
        .createIndex("instance_keys_active")
        .on("instance_keys")
        .column("purpose")
        .unique()
        .where(sql.ref("retired_at"), "is", null)
        .execute();
      const apiKeyColumns: [string, "text" | "bigint" | "blob" | "bytea"][] = [
        ["prev_secret_hash", "text"],
        ["prev_expires_at", "bigint"],
        ["signing_key", bin],
        ["prev_signing_key", bin],
        ["signing_key_by", "text"],
        ["sender_domains", "text"],
        ["allowed_ips", "text"],
        ["auth_methods", "text"],
        ["rate_limit", "text"],
        ["created_by", "text"],
      ];
      await db.schema
        .alterTable("api_keys")
        .addColumn("hash_alg", "text", (c) => c.notNull().defaultTo("sha256"))
        .execute();
      for (const [name, type] of apiKeyColumns)
        await db.schema.alterTable("api_keys").addColumn(name, type).execute();
      await sql`update api_keys set created_by = 'bootstrap' where name = 'bootstrap'`.execute(db);
      await db.schema.createIndex("api_keys_org_id").on("api_keys").columns(["org_id", "id"]).execute();
      await db.schema
        .createIndex("api_keys_prev_secret_hash")
        .on("api_keys")
        .column("prev_secret_hash")
        .where("prev_secret_hash", "is not", null)
        .execute();
      await db.schema.alterTable("orgs").addColumn("rate_limit", "text").execute();
      await db.schema.alterTable("attachment_parts").addColumn("org_id", "text").execute();
      await sql`update attachment_parts set org_id =
        (select org_id from messages where messages.id = attachment_parts.message_id)`.execute(db);
      await db.schema
        .createTable("auth_nonces")
        .addColumn("key_id", "text", (c) => c.notNull())
        .addColumn("nonce", "text", (c) => c.notNull())
        .addColumn("expires_at", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("auth_nonces_pk", ["key_id", "nonce"])
        .execute();
      await db.schema.createIndex("auth_nonces_expiry").on("auth_nonces").column("expires_at").execute();
      if (dialect !== "postgres") return;
      await db.schema
        .createTable("rate_limits")
        .modifyFront(sql`unlogged`)
        .addColumn("bucket", "text", (c) => c.primaryKey())
        // float8: T = w/q is fractional (auth/limiter.ts keeps it on a 1/1024 ms grid).
        .addColumn("tat", "double precision", (c) => c.notNull())
        .addColumn("period_ms", "double precision", (c) => c.notNull())
        .addColumn("window_ms", "bigint", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("auth_failures")
        .modifyFront(sql`unlogged`)
        .addColumn("source", "text", (c) => c.primaryKey())
        .addColumn("window_start", "bigint", (c) => c.notNull())
        .addColumn("failures", "integer", (c) => c.notNull())
        .addColumn("locked_until", "bigint")
        .execute();
    },
  };
}

/** Audit chains, checkpoints, legal holds and retention settings (ADR 0009). */
const auditRetention: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createTable("audit_log")
      .addColumn("chain", "text", (c) => c.notNull())
      .addColumn("seq", "bigint", (c) => c.notNull())
      .addColumn("id", "text", (c) => c.notNull())
      .addColumn("at", "bigint", (c) => c.notNull())
      .addColumn("actor_type", "text", (c) => c.notNull())
      .addColumn("actor_id", "text")
      .addColumn("action", "text", (c) => c.notNull())
      .addColumn("target_type", "text")
      .addColumn("target_id", "text")
      .addColumn("outcome", "text", (c) => c.notNull())
      .addColumn("status", "integer")
      .addColumn("source_ip", "text")
      .addColumn("request_id", "text")
      .addColumn("details", "text", (c) => c.notNull())
      .addColumn("prev_hash", "text", (c) => c.notNull())
      .addColumn("hash", "text", (c) => c.notNull())
      .addPrimaryKeyConstraint("audit_log_pk", ["chain", "seq"])
      .execute();
    await db.schema.createIndex("audit_log_at").on("audit_log").columns(["chain", "at"]).execute();
    await db.schema
      .createTable("audit_heads")
      .addColumn("chain", "text", (c) => c.primaryKey())
      .addColumn("seq", "bigint", (c) => c.notNull())
      .addColumn("hash", "text", (c) => c.notNull())
      .execute();
    await db.schema
      .createTable("audit_checkpoints")
      .addColumn("chain", "text", (c) => c.notNull())
      .addColumn("seq", "bigint", (c) => c.notNull())
      .addColumn("hash", "text", (c) => c.notNull())
      .addColumn("at", "bigint", (c) => c.notNull())
      .addColumn("key_id", "text", (c) => c.notNull())
      .addColumn("signature", "text", (c) => c.notNull())
      .addPrimaryKeyConstraint("audit_checkpoints_pk", ["chain", "seq"])
      .execute();
    await db.schema
      .createTable("legal_holds")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("org_id", "text", (c) => c.notNull().references("orgs.id"))
      .addColumn("kind", "text", (c) => c.notNull())
      .addColumn("message_id", "text")
      .addColumn("recipient_bidx", "text")
      .addColumn("reason", "text", (c) => c.notNull())
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("created_by", "text", (c) => c.notNull())
      .addColumn("released_at", "bigint")
      .execute();
    await db.schema
      .createIndex("legal_holds_org")
      .on("legal_holds")
      .columns(["org_id", "released_at"])
      .execute();
    await db.schema
      .alterTable("orgs")
      .addColumn("content_retention_days", "integer", (c) => c.notNull().defaultTo(30))
      .execute();
    await db.schema
      .alterTable("orgs")
      .addColumn("metadata_retention_days", "integer", (c) => c.notNull().defaultTo(2190))
      .execute();
    await db.schema.alterTable("messages").addColumn("content_purged_at", "bigint").execute();
    await db.schema
      .createIndex("messages_org_created")
      .on("messages")
      .columns(["org_id", "created_at"])
      .execute();
  },
};

/** Org policy, PHI summaries, recipient keys, per-delivery protection and portal links (ADR 0010). */
function encryptionPortal(dialect: Dialect): Migration {
  const bin = blob(dialect);
  return {
    async up(db: AnyDb) {
      await db.schema.alterTable("orgs").addColumn("policy", "text").execute();
      await db.schema.alterTable("messages").addColumn("phi", "text").execute();
      await db.schema.alterTable("deliveries").addColumn("encryption", "text").execute();
      await db.schema
        .createTable("recipient_keys")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("org_id", "text", (c) => c.notNull().references("orgs.id"))
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("address_bidx", "text", (c) => c.notNull())
        .addColumn("address", bin, (c) => c.notNull())
        .addColumn("material", bin, (c) => c.notNull())
        .addColumn("key_id", "text", (c) => c.notNull())
        .addColumn("fingerprint", "text", (c) => c.notNull())
        .addColumn("algorithm", "text", (c) => c.notNull())
        .addColumn("not_after", "bigint")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("created_by", "text", (c) => c.notNull())
        .addUniqueConstraint("recipient_keys_unique", ["org_id", "kind", "address_bidx", "fingerprint"])
        .execute();
      await db.schema
        .createIndex("recipient_keys_address")
        .on("recipient_keys")
        .columns(["org_id", "address_bidx"])
        .execute();
      await db.schema
        .createTable("portal_links")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("org_id", "text", (c) => c.notNull().references("orgs.id"))
        .addColumn("message_id", "text", (c) => c.notNull())
        .addColumn("delivery_id", "text", (c) => c.notNull().unique())
        .addColumn("token_hash", "text", (c) => c.notNull().unique())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("expires_at", "bigint", (c) => c.notNull())
        .addColumn("revoked_at", "bigint")
        .addColumn("failed_codes", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("locked_until", "bigint")
        .addColumn("code_hash", "text")
        .addColumn("code_expires_at", "bigint")
        .addColumn("session_hash", "text")
        .addColumn("session_expires_at", "bigint")
        .addColumn("verified_at", "bigint")
        .addColumn("views", "integer", (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .createIndex("portal_links_message")
        .on("portal_links")
        .columns(["org_id", "message_id"])
        .execute();
    },
  };
}

/** Templates, webhooks and their outbox, event columns for stats (ADR 0011). */
function templatesWebhooks(dialect: Dialect): Migration {
  const bin = blob(dialect);
  return {
    async up(db: AnyDb) {
      await db.schema
        .createTable("templates")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("org_id", "text", (c) => c.notNull().references("orgs.id"))
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("current_version", "integer", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .addColumn("deleted_at", "bigint")
        .execute();
      await db.schema
        .createIndex("templates_org_name")
        .on("templates")
        .columns(["org_id", "name"])
        .unique()
        .where(sql.ref("deleted_at"), "is", null)
        .execute();
      await db.schema
        .createTable("template_versions")
        .addColumn("template_id", "text", (c) => c.notNull())
        .addColumn("version", "integer", (c) => c.notNull())
        .addColumn("org_id", "text", (c) => c.notNull().references("orgs.id"))
        .addColumn("content", bin, (c) => c.notNull())
        .addColumn("phi_fields", "text", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("created_by", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("template_versions_pk", ["template_id", "version"])
        .execute();
      await db.schema.alterTable("messages").addColumn("template_id", "text").execute();
      await db.schema.alterTable("messages").addColumn("template_version", "integer").execute();
      await db.schema.alterTable("events").addColumn("encryption", "text").execute();
      await db.schema.alterTable("events").addColumn("tls_version", "text").execute();
      await db.schema
        .createIndex("events_org_created")
        .on("events")
        .columns(["org_id", "created_at", "id"])
        .execute();
      await db.schema
        .createTable("webhooks")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("org_id", "text", (c) => c.notNull().references("orgs.id"))
        .addColumn("url", "text", (c) => c.notNull())
        .addColumn("event_types", "text", (c) => c.notNull())
        .addColumn("enabled", "integer", (c) => c.notNull())
        .addColumn("secret", bin, (c) => c.notNull())
        .addColumn("prev_secret", bin)
        .addColumn("prev_secret_expires_at", "bigint")
        .addColumn("failing_since", "bigint")
        .addColumn("disabled_at", "bigint")
        .addColumn("disabled_reason", "text")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("webhooks_org").on("webhooks").columns(["org_id", "id"]).execute();
      await db.schema
        .createTable("webhook_deliveries")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("org_id", "text", (c) => c.notNull().references("orgs.id"))
        .addColumn("webhook_id", "text", (c) => c.notNull())
        .addColumn("event_id", "text")
        .addColumn("event_type", "text", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("attempts", "integer", (c) => c.notNull())
        .addColumn("due_at", "bigint")
        .addColumn("lease_owner", "text")
        .addColumn("last_status", "integer")
        .addColumn("last_error", "text")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .addColumn("delivered_at", "bigint")
        .execute();
      await db.schema
        .createIndex("webhook_deliveries_due")
        .on("webhook_deliveries")
        .columns(["status", "due_at"])
        .execute();
      await db.schema
        .createIndex("webhook_deliveries_log")
        .on("webhook_deliveries")
        .columns(["webhook_id", "created_at"])
        .execute();
    },
  };
}

function migrations(dialect: Dialect): Record<string, Migration> {
  return {
    "0001_initial": initial(dialect),
    "0002_delivery_engine": deliveryEngine(dialect),
    "0003_lease_index": leaseIndex,
    "0004_batch_and_schedule": batchAndSchedule,
    "0005_attachment_parts": attachmentParts(dialect),
    "0006_access_control": accessControl(dialect),
    "0007_audit_retention": auditRetention,
    "0008_encryption_portal": encryptionPortal(dialect),
    "0009_templates_webhooks": templatesWebhooks(dialect),
  };
}

/** Applies pending migrations: all of them, or (tests of a migration) up to `to`. */
export async function migrate(db: Db, opts: { to?: string } = {}): Promise<{ applied: string[] }> {
  const migrator = new Migrator({
    db: db.kysely,
    provider: { getMigrations: async () => migrations(db.dialect) },
  });
  const { error, results } =
    opts.to === undefined ? await migrator.migrateToLatest() : await migrator.migrateTo(opts.to);
  if (error !== undefined) throw new Error("database migration failed", { cause: error });
  return { applied: (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName) };
}

/** Used by readiness checks. */
export async function ping(db: Db): Promise<void> {
  await sql`select 1`.execute(db.kysely);
}
