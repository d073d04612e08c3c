import sanitizeHtml from "sanitize-html";

/**
 * The message's HTML as the portal shows it (ADR 0010 §6): an allow-list of text and
 * layout tags; no script, style, iframe, object, form or remote load of any kind. Links
 * survive only as https: or mailto:, opened with rel="noopener noreferrer"; images only as
 * inline data: URLs (the CSP allows img-src 'self' data:, nothing remote).
 */
const TAGS = [
  "a",
  "abbr",
  "b",
  "blockquote",
  "br",
  "caption",
  "code",
  "dd",
  "del",
  "div",
  "dl",
  "dt",
  "em",
  "h1",
  "h2",
  "h3",
  "h4",
  "h5",
  "h6",
  "hr",
  "i",
  "img",
  "ins",
  "li",
  "ol",
  "p",
  "pre",
  "s",
  "small",
  "span",
  "strong",
  "sub",
  "sup",
  "table",
  "tbody",
  "td",
  "tfoot",
  "th",
  "thead",
  "tr",
  "u",
  "ul",
];

const OPTIONS: sanitizeHtml.IOptions = {
  allowedTags: TAGS,
  allowedAttributes: {
    a: ["href", "title", "rel", "target"],
    img: ["src", "alt", "width", "height"],
    td: ["colspan", "rowspan"],
    th: ["colspan", "rowspan", "scope"],
    "*": ["lang", "dir"],
  },
  allowedSchemes: ["https", "mailto"],
  allowedSchemesByTag: { img: ["data"] },
  allowedSchemesAppliedToAttributes: ["href", "src"],
  allowProtocolRelative: false,
  disallowedTagsMode: "discard",
  // Their text is code or styling, not content.
  nonTextTags: ["script", "style", "textarea", "option", "noscript", "title", "head", "iframe", "object"],
  transformTags: {
    a: (tagName, attribs) => ({
      tagName,
      attribs: { ...attribs, rel: "noopener noreferrer", target: "_blank" },
    }),
  },
  exclusiveFilter: (frame) =>
    frame.tag === "img" && !/^data:image\/(png|gif|jpeg|webp);/i.test(frame.attribs.src ?? ""),
};

export function sanitizeMessageHtml(html: string): string {
  return sanitizeHtml(html, OPTIONS);
}
