import type { FastifyInstance } from "fastify";
import { SealpostError } from "../../core/errors.ts";
import {
  createRecipientKey,
  getRecipientKey,
  listKeys,
  type RecipientKeyRequest,
  recipientKeyView,
  removeRecipientKey,
} from "../../recipient-keys/service.ts";
import { access } from "../access.ts";
import type { ApiDeps } from "../context.ts";
import { orgScope } from "../org-scope.ts";
import { pageOf, pageQuery } from "../pagination.ts";
import { objectBody, optionalString, requiredString } from "./body.ts";
import { requestActor } from "./retention.ts";
import { idParam } from "./schemas.ts";

/**
 * Recipient keys (ADR 0010 §3), scope keys:manage: the S/MIME certificates and OpenPGP
 * public keys sealpost encrypts to when a message's mode is auto, smime or pgp. A key is
 * validated on upload (expiry, the address, key usage, algorithm strength); lists and
 * views never carry the key material.
 */
const keySchema = {
  type: "object",
  properties: {
    object: { type: "string", enum: ["recipient_key"] },
    id: { type: "string" },
    kind: { type: "string", enum: ["smime", "pgp"] },
    address: { type: "string" },
    key_id: { type: "string", description: "The fingerprint's last 16 hex digits." },
    fingerprint: {
      type: "string",
      description: "SHA-256 of the DER certificate (smime) or the OpenPGP fingerprint (pgp), hex.",
    },
    algorithm: { type: "string", description: "rsa-3072, curve25519, ec-p256, …" },
    not_after: { type: ["string", "null"], format: "date-time" },
    created_at: { type: "string", format: "date-time" },
  },
} as const;

const LIST_QUERY = ["limit", "cursor", "address"];

/** The body as a request: `address` and exactly one of `certificate` or `public_key`. */
function keyRequest(raw: unknown): RecipientKeyRequest {
  const body = objectBody(raw, ["address", "certificate", "public_key"]);
  const address = requiredString(body, "address");
  const certificate = optionalString(body, "certificate");
  const publicKey = optionalString(body, "public_key");
  if (certificate !== undefined && publicKey !== undefined)
    throw new SealpostError("invalid_value", {
      field: "public_key",
      detail: "Send either certificate (S/MIME) or public_key (OpenPGP), not both.",
    });
  if (certificate !== undefined) return { address, kind: "smime", text: certificate };
  if (publicKey !== undefined) return { address, kind: "pgp", text: publicKey };
  throw new SealpostError("missing_field", {
    field: "certificate",
    detail: "Send certificate (S/MIME) or public_key (OpenPGP).",
  });
}

export function registerRecipientKeyRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const manage = access({ scope: "keys:manage" });

  app.post(
    "/v1/recipient-keys",
    {
      config: manage,
      schema: {
        summary: "Put a recipient's S/MIME certificate or OpenPGP public key on file",
        description:
          "`address` and either `certificate` (one X.509 certificate, PEM or base64 DER: valid now, the " +
          "address in its subjectAltName, RSA of 2048 bits or more, keyEncipherment and emailProtection " +
          "when those extensions are present) or `public_key` (an armored OpenPGP public key: not revoked " +
          "or expired, a user id with the address, an encryption subkey, RSA of 2048 bits or more or ECC). " +
          "A key that fails a check is refused with recipient_key_invalid. The same key again answers the " +
          "one on file (200). Recorded in the audit log.",
        tags: ["recipient-keys"],
        body: {
          type: "object",
          required: ["address"],
          additionalProperties: false,
          properties: {
            address: { type: "string", format: "email" },
            certificate: { type: "string" },
            public_key: { type: "string" },
          },
        },
        response: { 200: keySchema, 201: keySchema },
      },
    },
    async (request, reply) => {
      const req = keyRequest(request.body);
      const rec = await createRecipientKey(deps, orgScope(deps, request), req, requestActor(request));
      return reply.code(rec.created ? 201 : 200).send(recipientKeyView(rec));
    },
  );

  app.get(
    "/v1/recipient-keys",
    {
      config: manage,
      schema: {
        summary: "List recipient keys, newest first",
        description: "`address` lists the keys of one address only. The key material is never listed.",
        tags: ["recipient-keys"],
        querystring: {
          type: "object",
          properties: {
            limit: { type: "integer", minimum: 1, maximum: 100, default: 20 },
            cursor: { type: "string" },
            address: { type: "string", format: "email" },
          },
        },
      },
    },
    async (request) => {
      const q = request.query as Record<string, unknown>;
      for (const k of Object.keys(q))
        if (!LIST_QUERY.includes(k))
          throw new SealpostError("unknown_field", { field: /^[a-z_]{1,32}$/.test(k) ? k : "?" });
      if (q.address !== undefined && typeof q.address !== "string")
        throw new SealpostError("invalid_type", { field: "address", detail: "address must be one address." });
      const { limit, before } = pageQuery(q, "rk");
      const recs = await listKeys(deps, orgScope(deps, request), {
        address: q.address as string | undefined,
        before,
        limit: limit + 1,
      });
      const { page, next } = pageOf(recs, limit, (r) => r.row.id);
      return { object: "list", data: page.map(recipientKeyView), next_cursor: next };
    },
  );

  app.get(
    "/v1/recipient-keys/:id",
    {
      config: manage,
      schema: {
        summary: "One recipient key (without its material)",
        tags: ["recipient-keys"],
        params: idParam,
        response: { 200: keySchema },
      },
    },
    async (request) => {
      const id = (request.params as { id: string }).id;
      return recipientKeyView(await getRecipientKey(deps, orgScope(deps, request), id));
    },
  );

  app.delete(
    "/v1/recipient-keys/:id",
    {
      config: manage,
      schema: {
        summary: "Delete a recipient key",
        description:
          "Messages to the address are then protected by TLS or the portal. Recorded in the audit log.",
        tags: ["recipient-keys"],
        params: idParam,
      },
    },
    async (request, reply) => {
      const id = (request.params as { id: string }).id;
      await removeRecipientKey(deps, orgScope(deps, request), id, requestActor(request));
      return reply.code(204).send();
    },
  );
}
