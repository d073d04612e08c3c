/**
 * The template engine and the checks on save (ADR 0011 §1), without a store: values are
 * escaped in HTML and verbatim in text; a missing variable names the variable, never a
 * value; a missing variable in a condition is false; helpers, partials, decorators and
 * prototype names are refused on save; PHI in the subject's text or a PHI-marked variable
 * in the subject is refused; text is derived from HTML; the compile cache is bounded.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { isSealpostError, type SealpostError } from "../../src/core/errors.ts";
import { compileTemplate, renderTemplate, TemplateCache } from "../../src/templates/engine.ts";
import { markedValues } from "../../src/templates/render-step.ts";
import { checkTemplateInput } from "../../src/templates/validate.ts";

function render(
  parts: { subject?: string; text?: string | null; html?: string | null },
  data: Record<string, unknown>,
) {
  return renderTemplate(
    compileTemplate({ subject: parts.subject ?? "Hi", text: parts.text ?? null, html: parts.html ?? null }),
    data,
  );
}

function problem(run: () => unknown): SealpostError {
  try {
    run();
  } catch (err) {
    if (isSealpostError(err)) return err;
    throw err;
  }
  assert.fail("expected a SealpostError");
}

function check(body: Record<string, unknown>) {
  return checkTemplateInput({ name: "t", subject: "Hello", ...body }, { nameRequired: true });
}

test("values are HTML-escaped in html and verbatim in subject and text", () => {
  const out = render(
    { subject: "For {{name}}", text: "Dear {{name}}", html: "<p>Dear {{name}}</p>" },
    { name: `<script>alert("x")</script> & Co` },
  );
  assert.equal(out.subject, `For <script>alert("x")</script> & Co`);
  assert.equal(out.text, `Dear <script>alert("x")</script> & Co`);
  assert.equal(out.html, "<p>Dear &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co</p>");
});

test("a missing variable is template_variable_missing naming it (dotted), never a value", () => {
  const e = problem(() =>
    render({ text: "Dear {{patient.first}}, {{secret}}" }, { patient: { last: "Doe-1234" } }),
  );
  assert.equal(e.code, "template_variable_missing");
  assert.equal(e.field, "template.data.patient.first");
  assert.doesNotMatch(JSON.stringify(e), /Doe-1234/);
  const top = problem(() => render({ html: "<b>{{#with p}}{{x}}{{/with}}</b> {{code}}" }, { p: { x: 1 } }));
  assert.equal(top.field, "template.data.code");
  const block = problem(() => render({ text: "{{#items}}x{{/items}}" }, {}));
  assert.equal(block.field, "template.data.items");
  // A property of a string: no variable to name, still a coded 422.
  const shape = problem(() => render({ text: "{{name.first}}" }, { name: "Ann" }));
  assert.equal(shape.code, "template_variable_missing");
  assert.equal(shape.field, "template.data");
});

test("in a condition a missing variable is false", () => {
  const src =
    "{{#if note}}Note: {{note}}{{else}}no note{{/if}}|{{#unless x}}u{{/unless}}|{{#each xs}}{{this}}{{/each}}|{{#with w}}{{v}}{{/with}}";
  assert.equal(render({ text: src }, {}).text, "no note|u||");
  assert.equal(
    render({ text: src }, { note: "bring water", xs: [1, 2], w: { v: "v" }, x: true }).text,
    "Note: bring water||12|v",
  );
});

test("helpers other than if/unless/each/with, partials and decorators are refused on save", () => {
  for (const html of [
    "{{log 'x'}}",
    "{{lookup a 'b'}}",
    "{{foo bar}}",
    "{{> header}}",
    "{{#> layout}}x{{/layout}}",
    '{{#*inline "p"}}x{{/inline}}',
    "{{#if}}x{{/if",
  ]) {
    const e = problem(() => check({ html }));
    assert.equal(e.code, "template_invalid", html);
    assert.equal(e.field, "html", html);
  }
  assert.equal(problem(() => check({ html: "<p>{{{raw}}}</p>" })).field, "html");
  assert.equal(problem(() => check({ html: "<p>{{&raw}}</p>" })).field, "html");
  // Triple-stash is harmless in text (it is plain text anyway).
  assert.equal(check({ text: "{{{raw}}}" }).parts.text, "{{{raw}}}");
});

test("prototype tricks are refused on save, and cannot reach anything when rendered", () => {
  for (const text of [
    "{{constructor}}",
    "{{constructor.name}}",
    "{{this.constructor.constructor}}",
    "{{a.__proto__}}",
    "{{#with constructor}}{{name}}{{/with}}",
    "{{#if (lookup this 'constructor')}}x{{/if}}",
    "{{@root.constructor}}",
    "{{toString}}",
    "{{a.[__proto__]}}",
  ]) {
    const e = problem(() => check({ text }));
    assert.equal(e.code, "template_invalid", text);
  }
  // Even compiled directly (bypassing the save checks), Handlebars' prototype protection holds.
  const out = render({ text: "[{{constructor}}][{{a.constructor}}][{{a.__proto__}}]" }, { a: {} });
  assert.equal(out.text, "[][][]");
});

test("the subject: one line, not empty, no PHI in its text, no PHI-marked variable", () => {
  assert.equal(problem(() => check({ subject: "  ", text: "x" })).field, "subject");
  assert.equal(problem(() => check({ subject: "Hi\r\nBcc: x", text: "x" })).code, "header_injection");
  const phi = problem(() => check({ subject: "Results for SSN 123-45-6789 {{x}}", text: "x" }));
  assert.equal(phi.code, "template_invalid");
  assert.equal(phi.field, "subject");
  assert.doesNotMatch(JSON.stringify(phi), /123-45/);
  // A variable's name is not PHI, its value is scanned at send time.
  assert.equal(check({ subject: "Your {{kind}} results", text: "x" }).parts.subject, "Your {{kind}} results");
  for (const [subject, fields] of [
    ["Hello {{dob}}", ["dob"]],
    ["Hello {{patient.name}}", ["patient.name"]],
    ["Hello {{patient}}", ["patient.name"]],
    ["Hello {{#with patient}}{{name}}{{/with}}", ["patient.name"]],
  ] as const) {
    const e = problem(() => check({ subject, text: "x", phi_fields: [...fields] }));
    assert.equal(e.code, "template_invalid", subject);
    assert.equal(e.field, "subject");
  }
  assert.equal(problem(() => check({ text: "x", phi_fields: ["bad name!"] })).field, "phi_fields");
});

test("parts: text or html required; text derived from html; each part must parse", () => {
  assert.equal(problem(() => check({})).code, "missing_field");
  const derived = check({ html: "<h1>Hello {{name}}</h1><p>See you {{#if day}}on {{day}}{{/if}}.</p>" });
  assert.match(derived.parts.text ?? "", /Hello \{\{name\}\}/);
  assert.match(derived.parts.text ?? "", /See you \{\{#if day\}\}on \{\{day\}\}\{\{\/if\}\}\./);
  assert.equal(render(derived.parts, { name: "Ann", day: "Monday" }).text?.includes("Hello Ann"), true);
  const bad = problem(() => check({ text: "{{#if x}}open" }));
  assert.equal(bad.code, "template_invalid");
  assert.equal(bad.field, "text");
  assert.equal(problem(() => check({ name: "", text: "x" })).field, "name");
  assert.equal(problem(() => check({ name: "x".repeat(101), text: "x" })).field, "name");
});

test("{{#each}} nests at most two deep (a render stays bounded)", () => {
  assert.ok(check({ text: "{{#each rows}}{{#each this}}{{this}}{{/each}}{{/each}}" }));
  const deep = problem(() =>
    check({ text: "{{#each a}}{{#if x}}{{#each b}}{{#each c}}x{{/each}}{{/each}}{{/if}}{{/each}}" }),
  );
  assert.deepEqual([deep.code, deep.field], ["template_invalid", "text"]);
});

test("marked values: scalars at the marked paths, nested ones included", () => {
  const data = { dob: "1980-01-02", patient: { name: "Ann Lee", ids: ["A1", 7] }, other: "x" };
  assert.deepEqual(
    markedValues(data, ["dob", "patient", "missing.path"]).sort(),
    ["1980-01-02", "7", "A1", "Ann Lee"].sort(),
  );
});

test("the compile cache is bounded and keeps the most recently used", () => {
  const cache = new TemplateCache(2);
  const entry = { compiled: compileTemplate({ subject: "s", text: "t", html: null }), phiFields: [] };
  cache.set("a", 1, entry);
  cache.set("b", 1, entry);
  assert.ok(cache.get("a", 1));
  cache.set("c", 1, entry);
  assert.equal(cache.size, 2);
  assert.equal(cache.get("b", 1), undefined);
  assert.ok(cache.get("a", 1));
});
