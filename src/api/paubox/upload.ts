import type {} from "@fastify/multipart";
import type { FastifyRequest } from "fastify";
import { SealpostError } from "../../core/errors.ts";

/**
 * Reading a Paubox dynamic-template upload: `multipart/form-data` with the fields
 * `data[name]` and `data[body]` (the Handlebars file, as the official SDK sends it, or a
 * plain field). @fastify/multipart is registered for these routes only, with the limits
 * below; anything over them, or malformed, is a coded 4xx, and no value is echoed.
 */
export const MAX_TEMPLATE_BYTES = 512 * 1024;
const MAX_NAME_BYTES = 200;

export const UPLOAD_LIMITS = {
  fieldNameSize: 64,
  fieldSize: MAX_TEMPLATE_BYTES,
  fields: 4,
  fileSize: MAX_TEMPLATE_BYTES,
  files: 1,
  parts: 5,
  headerPairs: 20,
} as const;

export interface TemplateUpload {
  name: string | undefined;
  /** The Handlebars HTML, decoded as UTF-8. */
  body: string | undefined;
  /** The file's name and type as sent, for Paubox's `params` echo; null for a plain field. */
  file: { filename: string; contentType: string } | null;
}

function utf8(bytes: Buffer, field: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new SealpostError("invalid_value", { field, detail: `${field} must be UTF-8 text.` });
  }
}

/** A limit or a malformed body, as a coded error (a SealpostError passes unchanged). */
function uploadError(err: unknown): unknown {
  if (err instanceof SealpostError) return err;
  const status = (err as { statusCode?: unknown }).statusCode;
  if (status === 413)
    return new SealpostError("payload_too_large", {
      detail: `A template upload holds data[name] and one data[body] of at most ${MAX_TEMPLATE_BYTES} bytes.`,
      cause: err,
    });
  return new SealpostError("malformed_request", { detail: "The multipart body is malformed.", cause: err });
}

export async function readTemplateUpload(request: FastifyRequest): Promise<TemplateUpload> {
  if (!request.isMultipart())
    throw new SealpostError("unsupported_media_type", {
      detail: "Dynamic templates are uploaded as multipart/form-data with data[name] and data[body].",
    });
  const out: TemplateUpload = { name: undefined, body: undefined, file: null };
  try {
    for await (const part of request.parts()) {
      const field = part.fieldname;
      if (field !== "data[name]" && field !== "data[body]") {
        if (part.type === "file") await part.toBuffer();
        throw new SealpostError("unknown_field", {
          field: "data",
          detail: "Only data[name] and data[body] are accepted.",
        });
      }
      if (part.type === "file") {
        if (field !== "data[body]")
          throw new SealpostError("invalid_type", { field, detail: `${field} must be a text field.` });
        out.body = utf8(await part.toBuffer(), field);
        out.file = { filename: part.filename, contentType: part.mimetype };
      } else {
        if (part.valueTruncated || part.fieldnameTruncated) throw new SealpostError("payload_too_large");
        const value = typeof part.value === "string" ? part.value : String(part.value);
        if (field === "data[name]") out.name = value;
        else out.body = value;
      }
    }
  } catch (err) {
    throw uploadError(err);
  }
  if (out.name !== undefined && Buffer.byteLength(out.name) > MAX_NAME_BYTES)
    throw new SealpostError("invalid_value", {
      field: "data[name]",
      detail: `data[name] holds at most ${MAX_NAME_BYTES} bytes.`,
    });
  return out;
}
