import { isSealpostError, SealpostError } from "../../core/errors.ts";
import type { OrgScope } from "../../store/scope.ts";
import { findTemplateByName } from "../../store/templates.ts";
import { PAUBOX_SUBJECT, templateNotFound } from "./dynamic-templates.ts";
import { type Translated, translateMessage } from "./translate.ts";

/**
 * Translates Paubox's `templated_messages` request (`data.template_name`, `data.template_values`
 * — a JSON string, as the official SDK sends it, or an object — and `data.message` without
 * content) into sealpost's message input with `template: {id, data}`, for the one submit
 * path. `headers.subject` goes in as the variable `paubox_subject`, which the subject part of
 * a Paubox-made template renders (api/paubox/dynamic-templates.ts). A `content` of the message
 * is ignored: the template is the content. An unknown name is a Paubox-shaped 404.
 */
function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function templateValues(v: unknown): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  let parsed: unknown = v;
  if (typeof v === "string") {
    try {
      parsed = JSON.parse(v);
    } catch {
      throw new SealpostError("invalid_value", {
        field: "data.template_values",
        detail: "data.template_values must be a JSON object (as a string).",
      });
    }
  }
  if (!isRecord(parsed))
    throw new SealpostError("invalid_value", {
      field: "data.template_values",
      detail: "data.template_values must be a JSON object (as a string).",
    });
  return parsed;
}

export async function translateTemplated(
  scope: OrgScope,
  data: Record<string, unknown>,
): Promise<Translated> {
  const name = data.template_name;
  if (typeof name !== "string" || name === "")
    throw new SealpostError(name === undefined || name === null ? "missing_field" : "invalid_type", {
      field: "data.template_name",
      detail: "data.template_name must be the name of a dynamic template.",
    });
  const values = templateValues(data.template_values);
  const t = translateMessage(data.message, "data.message");
  const template = await findTemplateByName(scope, name);
  if (template === undefined) throw templateNotFound();
  const { subject, text: _text, html: _html, ...rest } = t.input;
  return {
    input: {
      ...rest,
      template: {
        id: template.id,
        data: subject === undefined ? values : { ...values, [PAUBOX_SUBJECT]: subject },
      },
    },
    customHeaders: t.customHeaders,
  };
}

/**
 * A missing `paubox_subject` is the message's missing subject; other missing variables are
 * named as fields of `data.template_values`. Everything else passes unchanged.
 */
export function templatedErrorTerms(err: unknown): unknown {
  if (!isSealpostError(err) || err.code !== "template_variable_missing" || err.field === undefined)
    return err;
  if (err.field === `template.data.${PAUBOX_SUBJECT}`)
    return new SealpostError("missing_field", {
      issues: [{ field: "subject", code: "missing_field", detail: "is required" }],
      cause: err,
    });
  return new SealpostError(err.code, {
    field: err.field,
    issues: [{ field: err.field, code: err.code, detail: "is used by the template but not given" }],
    cause: err,
  });
}
