import type { SMTPServerOptions } from "smtp-server";
import { deliveryEntry } from "../audit/delivery.ts";
import type { AuditLog } from "../audit/types.ts";
import type { Clock } from "../core/clock.ts";
import { newId } from "../core/ids.ts";
import type { Keyring } from "../core/keyring.ts";
import { isAddressFailure, suppressionRow } from "../core/suppressions.ts";
import { parseVerp, verpTagValid } from "../core/verp.ts";
import type { Logger } from "../logging/logger.ts";
import type { Db } from "../store/db.ts";
import { findMessage } from "../store/messages.ts";
import { findDeliveryForReport, recordReport } from "../store/queue.ts";
import type { EventsTable } from "../store/schema.ts";
import { systemScope } from "../store/scope.ts";
import type { WebhookOutbox } from "../webhooks/outbox.ts";
import { openRecipient } from "../worker/prepare.ts";
import { deliveryStatusOf } from "./dsn.ts";
import { sessionError } from "./replies.ts";

/**
 * The bounce receiver (the MX of `bounce.<sending domain>`): accepts mail only for valid
 * VERP return paths and turns RFC 3464 DSNs into events on the delivery they name. Any
 * other recipient is refused; mail that is not a DSN (auto-replies) is accepted and dropped.
 */
export interface InboundDeps {
  db: Db;
  keyring: Keyring;
  clock: Clock;
  logger: Logger;
  audit: AuditLog;
  /** The webhook outbox: a report's event is written with its webhook rows (ADR 0011 §3). */
  webhooks?: WebhookOutbox;
}

async function handleReport(
  deps: InboundDeps,
  deliveryId: string,
  action: string,
  status: string | null,
): Promise<void> {
  const delivery = await findDeliveryForReport(deps.db, deliveryId);
  if (delivery === undefined) return;
  const now = deps.clock.now();
  const failed = action === "failed" && (status === null || status.startsWith("5."));
  const details = JSON.stringify({ source: "dsn", action, status });
  let suppression = null;
  if (failed && isAddressFailure(null, status, "rejected_permanent")) {
    const message = await findMessage(systemScope(deps.db, delivery.org_id, "inbound"), delivery.message_id);
    if (message?.data_key != null) {
      const dek = await deps.keyring.openMessageKey(
        message.org_id,
        message.id,
        message.data_key,
        message.data_key_id,
      );
      suppression = await suppressionRow(
        deps.keyring,
        deps.clock,
        delivery.org_id,
        openRecipient(dek, delivery),
        "hard_bounce",
        delivery.id,
      );
    }
  }
  const event: EventsTable = {
    id: newId("evt", now),
    org_id: delivery.org_id,
    message_id: delivery.message_id,
    delivery_id: delivery.id,
    type: failed ? "bounced" : action === "delayed" ? "deferred" : "report",
    created_at: now,
    details,
  };
  await recordReport(deps.db, {
    deliveryId,
    status: failed ? "bounced" : null,
    reason: failed ? "dsn_failed" : null,
    now,
    event,
    suppression,
    webhooks: (await deps.webhooks?.rowsFor([event])) ?? [],
  });
  deps.audit.record(deliveryEntry({ actorType: "system", actorId: "inbound" }, event));
  deps.logger.info({ deliveryId, outcome: failed ? "bounced" : action }, "dsn recorded");
}

export function inboundOptions(deps: InboundDeps, base: Partial<SMTPServerOptions>): SMTPServerOptions {
  return {
    ...base,
    secure: false,
    authOptional: true,
    disabledCommands: ["AUTH"],
    size: 10 * 1024 * 1024,
    async onRcptTo(address, _session, callback) {
      const verp = parseVerp(address.address);
      const delivery =
        verp === null
          ? undefined
          : await findDeliveryForReport(deps.db, verp.deliveryId).catch(() => undefined);
      if (verp === null || delivery === undefined) return callback(sessionError("noSuchRecipient"));
      const { indexKey } = await deps.keyring.orgKeys(delivery.org_id);
      if (!verpTagValid(indexKey, verp.deliveryId, verp.tag))
        return callback(sessionError("noSuchRecipient"));
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      new Promise<void>((resolve, reject) => {
        stream.once("end", resolve);
        stream.once("error", reject);
      })
        .then(async () => {
          const reports = deliveryStatusOf(Buffer.concat(chunks).toString("utf8"));
          if (reports !== null)
            for (const rcpt of session.envelope.rcptTo) {
              const verp = parseVerp(rcpt.address);
              const report = reports[0];
              if (verp !== null && report !== undefined)
                await handleReport(deps, verp.deliveryId, report.action, report.status);
            }
          callback(null, "report received");
        })
        .catch((err: unknown) => {
          if ((err as { code?: unknown }).code === "ECONNECTION")
            deps.logger.info({ code: "ECONNECTION" }, "sender left during DATA");
          else deps.logger.error({ err }, "dsn handling failed");
          callback(sessionError("temporary"));
        });
    },
  };
}
