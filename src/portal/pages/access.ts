import { esc } from "./html.ts";
import { layout } from "./layout.ts";

/**
 * The pages before the message: the landing page (send me a code), the code form, the
 * locked link, and the one page for a link that no longer works.
 */
function base(token: string): string {
  return `/portal/${esc(token)}`;
}

function sendCodeForm(token: string, label: string, secondary: boolean): string {
  return `<form method="post" action="${base(token)}/code">
<button type="submit"${secondary ? ' class="secondary"' : ""}>${label}</button>
</form>`;
}

export function landingPage(token: string): string {
  return layout(
    "You have a secure message",
    `<div class="card">
<p>Someone sent you a message through a secure service that protects health information.
To read it, confirm that this is your email address: we will email you a 6-digit code.</p>
${sendCodeForm(token, "Email me a code", false)}
</div>`,
  );
}

export interface CodeFormState {
  /** Shown above the field: a wrong or expired code. */
  readonly error?: string;
}

export function codePage(token: string, state: CodeFormState = {}): string {
  const error =
    state.error === undefined ? "" : `<p class="error" id="code-error" role="alert">${esc(state.error)}</p>`;
  const describedBy = state.error === undefined ? "code-hint" : "code-hint code-error";
  return layout(
    "Enter your code",
    `<div class="card">
<p>We sent a 6-digit code to your email address. It can take a minute to arrive and works
for 10 minutes. If it never comes, ask the sender to reach you another way.</p>
<form method="post" action="${base(token)}/verify">
${error}<label for="code">Code</label>
<p class="hint" id="code-hint">The 6 digits from the email “Your code”.</p>
<input class="code" type="text" id="code" name="code" inputmode="numeric" autocomplete="one-time-code"
  maxlength="12" required aria-describedby="${describedBy}"${state.error === undefined ? "" : ' aria-invalid="true"'}>
<button type="submit">Continue</button>
</form>
</div>
<div class="card">
<h2>No code?</h2>
${sendCodeForm(token, "Send a new code", true)}
</div>`,
  );
}

export function lockedPage(minutes: number): string {
  const span = minutes === 1 ? "1 minute" : `${minutes} minutes`;
  return layout(
    "This link is locked for now",
    `<div class="card">
<p>Too many wrong codes were entered, so this link is locked. Try again in ${esc(span)}.</p>
</div>`,
  );
}

/** Expired, revoked, unknown or deleted: one page, with no hint which. */
export function gonePage(): string {
  return layout(
    "This link does not work",
    `<div class="card">
<p>This secure message link does not work. Links expire after a while, and the sender can
withdraw one. If you still need the message, ask the sender to send it again.</p>
</div>`,
  );
}

export function errorPage(title: string, text: string): string {
  return layout(title, `<div class="card"><p>${esc(text)}</p></div>`);
}
