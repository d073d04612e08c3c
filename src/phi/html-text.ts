/**
 * The text of an HTML body as a reader sees it, for the PHI scan (ADR 0010 §2): tags dropped,
 * character references decoded, script/style/template content and comments dropped, `alt`
 * text kept (mail clients show it when images are blocked), block elements separated by a
 * newline so words in adjacent cells do not run together, and zero-width characters removed
 * so they cannot split a number. One pass, linear in the input.
 */
import { decodeEntities } from "./entities.ts";

const HIDDEN = new Set(["script", "style", "template"]);
const BLOCK = new Set([
  "address",
  "article",
  "aside",
  "blockquote",
  "br",
  "caption",
  "dd",
  "div",
  "dl",
  "dt",
  "fieldset",
  "figcaption",
  "figure",
  "footer",
  "form",
  "h1",
  "h2",
  "h3",
  "h4",
  "h5",
  "h6",
  "header",
  "hr",
  "li",
  "main",
  "nav",
  "ol",
  "option",
  "p",
  "pre",
  "section",
  "table",
  "tbody",
  "td",
  "tfoot",
  "th",
  "thead",
  "title",
  "tr",
  "ul",
]);

/** Visible text of `html`; whitespace collapsed, block boundaries as newlines. */
export function htmlText(html: string): string {
  const parts: string[] = [];
  let i = 0;
  while (i < html.length) {
    const lt = html.indexOf("<", i);
    if (lt === -1) {
      parts.push(textOf(html.slice(i)));
      break;
    }
    parts.push(textOf(html.slice(i, lt)));
    i = skipMarkup(html, lt, parts);
  }
  return tidy(parts.join(""));
}

/** Decoded text; line breaks in the source are spaces, as a browser renders them. */
function textOf(source: string): string {
  return decodeEntities(source.replace(/[\r\n]/g, " "));
}

/** Consumes the markup starting at `lt` (a `<`), pushing any text it contributes; returns where text resumes. */
function skipMarkup(html: string, lt: number, parts: string[]): number {
  if (html.startsWith("<!--", lt)) return endOf(html, "-->", lt + 4);
  if (html.startsWith("<![CDATA[", lt)) {
    const close = html.indexOf("]]>", lt + 9);
    const end = close === -1 ? html.length : close;
    parts.push(html.slice(lt + 9, end));
    return close === -1 ? html.length : close + 3;
  }
  const name = /^<\/?([A-Za-z][A-Za-z0-9-]{0,30})/.exec(html.slice(lt, lt + 33));
  if (!name) {
    // `<!DOCTYPE …>`, `<?xml …?>`: skip to `>`; a lone `<` is text.
    if (html[lt + 1] === "!" || html[lt + 1] === "?") return endOf(html, ">", lt + 1);
    parts.push("<");
    return lt + 1;
  }
  const tag = (name[1] ?? "").toLowerCase();
  const closing = html[lt + 1] === "/";
  const end = tagEnd(html, lt + name[0].length);
  if (!closing) {
    const alt = /\salt\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/i.exec(html.slice(lt, end));
    if (alt) parts.push(` ${decodeEntities(alt[1] ?? alt[2] ?? alt[3] ?? "")} `);
  }
  if (BLOCK.has(tag)) parts.push("\n");
  if (!closing && HIDDEN.has(tag)) {
    const closeTag = new RegExp(`</${tag}`, "gi");
    closeTag.lastIndex = end;
    const close = closeTag.exec(html);
    return close ? tagEnd(html, close.index + 2 + tag.length) : html.length;
  }
  return end;
}

/** Index after the `>` closing the tag whose attributes start at `from`; quoted `>` don't count. */
function tagEnd(html: string, from: number): number {
  let quote = "";
  for (let i = from; i < html.length; i++) {
    const c = html[i];
    if (quote) {
      if (c === quote) quote = "";
    } else if (c === '"' || c === "'") quote = c;
    else if (c === ">") return i + 1;
  }
  return html.length;
}

function endOf(html: string, marker: string, from: number): number {
  const at = html.indexOf(marker, from);
  return at === -1 ? html.length : at + marker.length;
}

function zeroWidth(c: number): boolean {
  return (c >= 0x200b && c <= 0x200d) || c === 0x2060 || c === 0xfeff || c === 0xad;
}
function space(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d || c === 0xa0;
}

/** Drops zero-width characters; a whitespace run becomes one newline if it had one, else one space. */
function tidy(text: string): string {
  const out: string[] = [];
  let gap = "";
  let from = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 0x20;
    if (!zeroWidth(c) && !space(c)) continue;
    if (i > from) {
      if (gap && out.length > 0) out.push(gap);
      gap = "";
      out.push(text.slice(from, i));
    }
    from = i + 1;
    if (space(c) && gap !== "\n") gap = c === 0x0a ? "\n" : " ";
  }
  return out.join("");
}
