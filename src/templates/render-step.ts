/**
 * Submit step "template" (ADR 0011 §1), before step "phi": a message that names a template
 * instead of subject/text/html gets them rendered from the org's live template (the given
 * version, or the current one), and records `{id, version}`. The values of the template's
 * PHI-marked fields go to the step "phi" as `marked`, so they count as PHI wherever they
 * appear. An unknown or deleted template is 422 `invalid_value` on `template.id` (not 404:
 * the request, not the route, names something that is not there).
 */
import { SealpostError } from "../core/errors.ts";
import type { Keyring } from "../core/keyring.ts";
import type { Limits, ValidatedMessage } from "../core/message.ts";
import type { TemplateRef } from "../core/validate.ts";
import type { OrgScope } from "../store/scope.ts";
import { renderTemplate, type TemplateCache } from "./engine.ts";
import { compiledVersion } from "./service.ts";

export interface TemplateStepDeps {
  keyring: Keyring;
  templates: TemplateCache;
  limits: Limits;
}

export interface TemplateStepResult {
  readonly message: ValidatedMessage;
  /** Values of PHI-marked data fields, for detectPhi's `marked`. */
  readonly marked: readonly string[];
}

/** Every scalar value at `path` (a dotted field name) in `data`, as text. */
function valuesAt(data: unknown, path: string): string[] {
  let at: unknown = data;
  for (const seg of path.split(".")) {
    if (typeof at !== "object" || at === null || !Object.hasOwn(at, seg)) return [];
    at = (at as Record<string, unknown>)[seg];
  }
  const out: string[] = [];
  const collect = (v: unknown): void => {
    if (typeof v === "string") out.push(v);
    else if (typeof v === "number" || typeof v === "boolean") out.push(String(v));
    else if (Array.isArray(v)) v.forEach(collect);
    else if (typeof v === "object" && v !== null) Object.values(v).forEach(collect);
  };
  collect(at);
  return out;
}

export function markedValues(data: Record<string, unknown>, phiFields: readonly string[]): string[] {
  return [...new Set(phiFields.flatMap((f) => valuesAt(data, f)))];
}

async function unknownTemplate(
  deps: TemplateStepDeps,
  scope: OrgScope,
  ref: TemplateRef,
): Promise<SealpostError> {
  const versionOnly = ref.version !== null && (await compiledVersion(deps, scope, ref.id)) !== undefined;
  return versionOnly
    ? new SealpostError("invalid_value", {
        field: "template.version",
        detail: "template.version is not a version of this template.",
      })
    : new SealpostError("invalid_value", {
        field: "template.id",
        detail: "template.id is not a template of this organization (or it was deleted).",
      });
}

export async function applyTemplate(
  deps: TemplateStepDeps,
  scope: OrgScope,
  msg: ValidatedMessage,
  ref: TemplateRef | null,
): Promise<TemplateStepResult> {
  if (ref === null) return { message: msg, marked: [] };
  const found = await compiledVersion(deps, scope, ref.id, ref.version ?? undefined);
  if (found === undefined) throw await unknownTemplate(deps, scope, ref);
  const out = renderTemplate(found.compiled, ref.data);
  if (/[\r\n]/.test(out.subject))
    throw new SealpostError("header_injection", {
      field: "template.data",
      detail: "A value used in the subject contains a line break.",
    });
  if (out.subject.length > deps.limits.maxSubjectLength)
    throw new SealpostError("invalid_value", {
      field: "template.data",
      detail: `The rendered subject is longer than ${deps.limits.maxSubjectLength} characters.`,
    });
  const size =
    msg.attachments.reduce((n, a) => n + a.content.length, 0) +
    Buffer.byteLength(out.text ?? "") +
    Buffer.byteLength(out.html ?? "");
  if (size > deps.limits.maxTotalBytes)
    throw new SealpostError("payload_too_large", {
      field: "template.data",
      detail: "The rendered message is too large.",
    });
  return {
    message: {
      ...msg,
      subject: out.subject,
      text: out.text,
      html: out.html,
      template: { id: ref.id, version: found.version },
    },
    marked: markedValues(ref.data, found.phiFields),
  };
}
