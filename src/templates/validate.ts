/**
 * The checks on save (ADR 0011 §1): every part parses and compiles under the engine's
 * rules (no partials, no decorators, no helper but if/unless/each/with, no name that
 * reaches an object's prototype, no unescaped `{{{x}}}` in the HTML); there is a text or
 * an HTML part (text is derived from HTML when missing); the subject is one line, not
 * empty, at most 998 characters, with no PHI in its literal text and no PHI-marked
 * variable. Problems are `template_invalid` with the part as field and a fixed detail.
 */
import { SealpostError } from "../core/errors.ts";
import { detectPhi } from "../phi/detect.ts";
import { htmlText } from "../phi/html-text.ts";
import { checkCompiles, type PartName, parsePart, type TemplateParts, walk } from "./engine.ts";

export const MAX_NAME = 100;
export const MAX_SUBJECT = 998;
/** Each of text and html. */
export const MAX_PART_CHARS = 1024 * 1024;
export const MAX_PHI_FIELDS = 100;
/**
 * `{{#each}}` inside `{{#each}}` at most this deep: with data bounded to 5,000 values, a
 * render then stays within 25 million iterations however the loops are written.
 */
export const MAX_EACH_NESTING = 2;

export interface TemplateInput {
  readonly name: string;
  readonly parts: TemplateParts;
  readonly phiFields: readonly string[];
}

/** Names that would reach an object's prototype, refused anywhere in a path. */
const RESERVED = new Set([
  "constructor",
  "prototype",
  "__proto__",
  "__defineGetter__",
  "__defineSetter__",
  "__lookupGetter__",
  "__lookupSetter__",
  "hasOwnProperty",
  "isPrototypeOf",
  "propertyIsEnumerable",
  "toString",
  "toLocaleString",
  "valueOf",
]);
const FORBIDDEN_NODES: Readonly<Record<string, string>> = {
  PartialStatement: "partials",
  PartialBlockStatement: "partials",
  Decorator: "decorators",
  DecoratorBlock: "decorators",
};
const FIELD_PATH = /^[A-Za-z_][A-Za-z0-9_-]{0,63}(\.[A-Za-z_][A-Za-z0-9_-]{0,63}){0,7}$/;

function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

function invalid(field: string, detail: string): SealpostError {
  return new SealpostError("template_invalid", { field, detail });
}

function str(raw: unknown, field: string, max: number): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== "string")
    throw new SealpostError("invalid_type", { field, detail: `${field} must be a string.` });
  if (raw.length > max) throw invalid(field, `${field} must be at most ${max} characters.`);
  return raw;
}

/** The data paths a part uses (segments, without `this`, `..` and `@root`). */
function pathsOf(ast: unknown): string[][] {
  const out: string[][] = [];
  for (const n of walk(ast))
    if (n.type === "PathExpression" && Array.isArray(n.parts))
      out.push(n.parts.filter((p): p is string => typeof p === "string"));
  return out;
}

interface BlockNode {
  readonly path?: { readonly original?: unknown };
  readonly program?: unknown;
  readonly inverse?: unknown;
}

/** The deepest nesting of `{{#each}}` blocks in `node`. */
function eachDepth(node: unknown): number {
  let deepest = 0;
  const visit = (n: unknown, depth: number): void => {
    if (Array.isArray(n)) {
      for (const c of n) visit(c, depth);
      return;
    }
    if (typeof n !== "object" || n === null) return;
    const t = (n as { type?: unknown }).type;
    const here = t === "BlockStatement" && (n as BlockNode).path?.original === "each" ? depth + 1 : depth;
    deepest = Math.max(deepest, here);
    for (const [k, v] of Object.entries(n)) if (k !== "loc" && typeof v === "object") visit(v, here);
  };
  visit(node, 0);
  return deepest;
}

/** Parses, compiles and checks one part; returns its AST. */
function checkPart(source: string, part: PartName): unknown {
  const ast = parsePart(source, part);
  for (const n of walk(ast)) {
    const what = FORBIDDEN_NODES[n.type];
    if (what !== undefined) throw invalid(part, `The ${part} part uses ${what}, which templates cannot.`);
    if (part === "html" && n.type === "MustacheStatement" && n.escaped === false)
      throw invalid(part, "The html part uses {{{…}}} or {{&…}}: values in HTML are always escaped.");
  }
  for (const p of pathsOf(ast))
    if (p.some((s) => RESERVED.has(s)))
      throw invalid(part, `The ${part} part uses a reserved name (an object's built-in property).`);
  if (eachDepth(ast) > MAX_EACH_NESTING)
    throw invalid(part, `The ${part} part nests {{#each}} more than ${MAX_EACH_NESTING} deep.`);
  checkCompiles(source, part);
  return ast;
}

function phiFields(raw: unknown): string[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw) || raw.length > MAX_PHI_FIELDS)
    throw new SealpostError("invalid_type", {
      field: "phi_fields",
      detail: `phi_fields must be a list of at most ${MAX_PHI_FIELDS} field names.`,
    });
  for (const f of raw)
    if (typeof f !== "string" || !FIELD_PATH.test(f))
      throw invalid("phi_fields", "Each PHI field is a data field name, or a dotted path like patient.name.");
  return [...new Set(raw as string[])];
}

/**
 * Whether a subject path may reach a marked field: one is a prefix of the other, or it
 * names the field's last segment anywhere (inside `{{#with}}`/`{{#each}}` paths are
 * relative). Cautious on purpose: a subject should carry no PHI at all.
 */
function reachesMarked(path: readonly string[], marked: string): boolean {
  const f = marked.split(".");
  const n = Math.min(path.length, f.length);
  if (n > 0 && path.slice(0, n).every((s, i) => s === f[i])) return true;
  const last = f.at(-1);
  return last !== undefined && path.includes(last);
}

function checkSubject(subject: string, marked: readonly string[]): void {
  if (subject.trim() === "") throw invalid("subject", "The subject must not be empty.");
  if (/[\r\n]/.test(subject))
    throw new SealpostError("header_injection", {
      field: "subject",
      detail: "subject must not contain CR or LF.",
    });
  const ast = checkPart(subject, "subject");
  // The literal text only: what {{…}} renders is data, scanned at send time.
  const literal = subject.replace(/\{\{[\s\S]*?\}\}\}?/g, " ");
  if (detectPhi([{ field: "subject", text: literal }]).length > 0)
    throw invalid(
      "subject",
      "The subject's text contains protected health information; move it into the body.",
    );
  for (const p of pathsOf(ast))
    if (marked.some((m) => reachesMarked(p, m)))
      throw invalid("subject", "The subject uses a PHI-marked field; PHI goes in the body only.");
}

/** Checks a create or update body (`name` required on create). */
export function checkTemplateInput(
  body: Record<string, unknown>,
  opts: { nameRequired: boolean },
): { name: string | undefined; parts: TemplateParts; phiFields: string[] } {
  const name = str(body.name, "name", MAX_NAME);
  if (name === undefined && opts.nameRequired) throw new SealpostError("missing_field", { field: "name" });
  if (name !== undefined && (name.trim() === "" || hasControl(name)))
    throw invalid("name", "The name is 1-100 characters, without control characters.");
  const subject = str(body.subject, "subject", MAX_SUBJECT);
  if (subject === undefined) throw new SealpostError("missing_field", { field: "subject" });
  let text = str(body.text, "text", MAX_PART_CHARS) ?? null;
  const html = str(body.html, "html", MAX_PART_CHARS) ?? null;
  if (text === null && html === null)
    throw new SealpostError("missing_field", {
      field: "text",
      detail: "A template needs a text or an html part.",
    });
  const marked = phiFields(body.phi_fields);
  checkSubject(subject, marked);
  if (html !== null) checkPart(html, "html");
  if (text !== null) checkPart(text, "text");
  else if (html !== null) {
    text = htmlText(html);
    try {
      checkPart(text, "text");
    } catch {
      throw invalid("text", "A text part could not be derived from the html part; give one.");
    }
  }
  return { name, parts: { subject, text, html }, phiFields: marked };
}
