/**
 * The template engine (ADR 0011 §1): Handlebars with everything that could run code turned
 * off. `strict` (a missing variable throws, and we name it), `knownHelpersOnly` with the
 * built-in block helpers only (`if`, `unless`, `each`, `with`; `log` and `lookup` are off),
 * no partials, no decorators, prototype access off (Handlebars' default). The subject and
 * text parts render as plain text (`noEscape`); the HTML part escapes every value.
 *
 * Inside a condition a missing variable is false (`{{#if x}}`, `{{#unless x}}`, `{{#each
 * xs}}`, `{{#with x}}` render their inverse or nothing): that is how optional data is
 * written. Anywhere else (`{{x}}`, `{{#x}}`) it fails the render.
 */
import Handlebars from "handlebars";
import { SealpostError } from "../core/errors.ts";

export type PartName = "subject" | "text" | "html";

/** A template version's source parts; `text` is derived from `html` on save when missing. */
export interface TemplateParts {
  readonly subject: string;
  readonly text: string | null;
  readonly html: string | null;
}

export type TemplateData = Record<string, unknown>;

export interface RenderedParts {
  readonly subject: string;
  readonly text: string | null;
  readonly html: string | null;
}

/** An isolated Handlebars environment: no helper or partial registered elsewhere reaches it. */
const hb = Handlebars.create();
hb.unregisterHelper("log");
hb.unregisterHelper("lookup");

const BASE_OPTIONS = {
  strict: true,
  knownHelpersOnly: true,
  knownHelpers: { log: false, lookup: false },
} as const;
const RUNTIME_OPTIONS = {
  allowProtoPropertiesByDefault: false,
  allowProtoMethodsByDefault: false,
  partials: {},
  decorators: {},
} as const;

/** What a variable name may look like in a problem (names come from the template, not the data). */
const SAFE_NAME = /^[A-Za-z0-9_.@/[\]-]{1,100}$/;

export interface AstNode {
  readonly type: string;
  readonly loc?: { start: { line: number; column: number } };
  readonly original?: unknown;
  readonly parts?: unknown;
  readonly escaped?: boolean;
}

function isNode(v: unknown): v is AstNode {
  return typeof v === "object" && v !== null && typeof (v as { type?: unknown }).type === "string";
}

/** Every AST node of a parsed template, depth first (bounded by the template's size). */
export function* walk(node: unknown): Generator<AstNode> {
  if (Array.isArray(node)) {
    for (const n of node) yield* walk(n);
    return;
  }
  if (!isNode(node)) return;
  yield node;
  for (const [k, v] of Object.entries(node)) if (k !== "loc" && typeof v === "object") yield* walk(v);
}

/** Parses a part; a syntax error is a SealpostError("template_invalid") naming the part. */
export function parsePart(source: string, part: PartName): unknown {
  try {
    return hb.parse(source);
  } catch {
    throw new SealpostError("template_invalid", {
      field: part,
      detail: `The ${part} part is not a valid Handlebars template.`,
    });
  }
}

type Render = (data: TemplateData) => string;

interface CompiledPart {
  readonly render: Render;
  /** Path expressions by `line:column`, to name the variable a strict lookup missed. */
  readonly paths: ReadonlyMap<string, string>;
}

export interface CompiledTemplate {
  readonly subject: CompiledPart;
  readonly text: CompiledPart | null;
  readonly html: CompiledPart | null;
}

function compilePart(source: string, part: PartName): CompiledPart {
  const ast = parsePart(source, part);
  const paths = new Map<string, string>();
  for (const n of walk(ast))
    if (n.type === "PathExpression" && n.loc !== undefined && typeof n.original === "string")
      paths.set(`${n.loc.start.line}:${n.loc.start.column}`, n.original);
  const fn = hb.compile(source, { ...BASE_OPTIONS, noEscape: part !== "html" });
  return { render: (data) => fn(data, RUNTIME_OPTIONS), paths };
}

/** Compiles a version's parts; validate them first (src/templates/validate.ts). */
export function compileTemplate(parts: TemplateParts): CompiledTemplate {
  return {
    subject: compilePart(parts.subject, "subject"),
    text: parts.text === null ? null : compilePart(parts.text, "text"),
    html: parts.html === null ? null : compilePart(parts.html, "html"),
  };
}

/**
 * A compile error of Handlebars itself (an unknown helper under knownHelpersOnly), for the
 * checks on save: compiling is lazy, so this forces it.
 */
export function checkCompiles(source: string, part: PartName): void {
  try {
    hb.precompile(source, { ...BASE_OPTIONS, noEscape: part !== "html" });
  } catch {
    throw new SealpostError("template_invalid", {
      field: part,
      detail: `The ${part} part uses a helper or construct that is not allowed.`,
    });
  }
}

function missing(part: CompiledPart, err: unknown): SealpostError {
  const e = err as { message?: unknown; lineNumber?: unknown; column?: unknown };
  const found =
    err instanceof hb.Exception && typeof e.message === "string" && /^"[^"]*" not defined in /.test(e.message)
      ? part.paths.get(`${String(e.lineNumber)}:${String(e.column)}`)
      : undefined;
  if (found !== undefined) {
    const name = SAFE_NAME.test(found) ? found : "?";
    return new SealpostError("template_variable_missing", {
      field: `template.data.${name}`,
      detail: `The template uses the variable ${name}, which the data does not give.`,
    });
  }
  // A lookup through a value of the wrong shape (a property of a string, of a missing object
  // inside a condition): no single variable to name.
  return new SealpostError("template_variable_missing", {
    field: "template.data",
    detail: "The data does not have the shape the template expects.",
  });
}

function run(part: CompiledPart, data: TemplateData): string {
  try {
    return part.render(data);
  } catch (err) {
    throw missing(part, err);
  }
}

/** Renders every part with `data`; a missing variable is a 422 naming it (never its value). */
export function renderTemplate(t: CompiledTemplate, data: TemplateData): RenderedParts {
  return {
    subject: run(t.subject, data),
    text: t.text === null ? null : run(t.text, data),
    html: t.html === null ? null : run(t.html, data),
  };
}

/** A compiled version and its PHI-marked field names, as the cache keeps them. */
export interface CachedVersion {
  readonly compiled: CompiledTemplate;
  readonly phiFields: readonly string[];
}

/**
 * Compiled versions by `<template id>:<version>` (versions are immutable, so an entry never
 * goes stale), least recently used dropped beyond `max`. One per process, passed in.
 */
export class TemplateCache {
  readonly #max: number;
  readonly #entries = new Map<string, CachedVersion>();

  constructor(max = 500) {
    this.#max = max;
  }

  get(id: string, version: number): CachedVersion | undefined {
    const key = `${id}:${version}`;
    const hit = this.#entries.get(key);
    if (hit !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, hit);
    }
    return hit;
  }

  set(id: string, version: number, entry: CachedVersion): void {
    this.#entries.set(`${id}:${version}`, entry);
    if (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
  }

  get size(): number {
    return this.#entries.size;
  }
}
