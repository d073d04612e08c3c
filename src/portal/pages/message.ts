import { esc, formatDate, paragraphs } from "./html.ts";
import { layout } from "./layout.ts";

/**
 * The message page after verification: who sent it, the subject and date, the content
 * (the HTML already cleaned by sanitize.ts, else the text), the attachments as download
 * links, and the reply form with its CSRF token.
 */
export interface MessageView {
  readonly from: string;
  readonly subject: string;
  readonly date: number;
  readonly text: string | null;
  /** Sanitised (portal/sanitize.ts). */
  readonly safeHtml: string | null;
  readonly attachments: readonly { filename: string; size: number }[];
}

export interface ReplyFormState {
  readonly error?: string;
  readonly sent?: boolean;
  readonly text?: string;
}

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

function attachmentList(token: string, view: MessageView): string {
  if (view.attachments.length === 0) return "";
  const items = view.attachments
    .map(
      (a, i) =>
        `<li><a href="/portal/${esc(token)}/attachments/${i}" download>${esc(a.filename)}</a> (${esc(size(a.size))})</li>`,
    )
    .join("\n");
  return `<section class="card" aria-labelledby="files-h">
<h2 id="files-h">Attachments</h2>
<ul class="files">
${items}
</ul>
</section>`;
}

function replyForm(token: string, csrf: string, state: ReplyFormState): string {
  const note =
    state.sent === true
      ? '<p class="ok" role="status">Your reply was sent.</p>'
      : state.error === undefined
        ? ""
        : `<p class="error" id="reply-error" role="alert">${esc(state.error)}</p>`;
  const describedBy = state.error === undefined ? "reply-hint" : "reply-hint reply-error";
  return `<section class="card" aria-labelledby="reply-h">
<h2 id="reply-h">Reply securely</h2>
${note}<form method="post" action="/portal/${esc(token)}/reply">
<input type="hidden" name="csrf" value="${esc(csrf)}">
<label for="reply-text">Your reply</label>
<p class="hint" id="reply-hint">Up to 10,000 characters. It goes to the sender through the same secure service.</p>
<textarea id="reply-text" name="text" rows="8" maxlength="10000" required aria-describedby="${describedBy}">${esc(state.text ?? "")}</textarea>
<button type="submit">Send reply</button>
</form>
</section>`;
}

export function messagePage(
  token: string,
  view: MessageView,
  csrf: string,
  state: ReplyFormState = {},
): string {
  const content =
    view.safeHtml ?? (view.text === null ? "<p>(This message has no text.)</p>" : paragraphs(view.text));
  return layout(
    "Your secure message",
    `<section class="card" aria-labelledby="about-h">
<h2 id="about-h">About this message</h2>
<dl class="meta">
<dt>From</dt><dd>${esc(view.from)}</dd>
<dt>Subject</dt><dd>${esc(view.subject)}</dd>
<dt>Date</dt><dd>${esc(formatDate(view.date))}</dd>
</dl>
</section>
<section class="card" aria-labelledby="content-h">
<h2 id="content-h">Message</h2>
<div class="content">
${content}
</div>
</section>
${attachmentList(token, view)}
${replyForm(token, csrf, state)}`,
  );
}
