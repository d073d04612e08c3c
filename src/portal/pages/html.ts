/**
 * HTML escaping for the portal's server-rendered pages: every value that is not our own
 * markup goes through `esc`, and `html` joins trusted fragments.
 */
const ENTITIES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export function esc(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

/** Text with its line breaks kept, escaped. */
export function paragraphs(text: string): string {
  return text
    .split(/\r?\n\s*\r?\n/)
    .map((p) => `<p>${esc(p).replace(/\r?\n/g, "<br>")}</p>`)
    .join("\n");
}

export function formatDate(ms: number): string {
  return new Date(ms).toUTCString();
}
