import { detectPhi, redact, summarize } from "../phi/detect.ts";
import { htmlText } from "../phi/html-text.ts";
import type { PhiInput } from "../phi/types.ts";
import type { OrgPolicy } from "../policy/types.ts";
import { SealpostError } from "./errors.ts";
import type { ValidatedMessage } from "./message.ts";

/**
 * Submit step "phi" (ADR 0010 §2): scans the subject, the text and the HTML's text once
 * each; PHI in the subject is refused (`phi_in_subject`) or redacted, by org policy; the
 * summary (counts only) goes to `messages.phi`; `allow_non_tls` is honoured only when the
 * policy allows it and the message has no finding and no attachment. Findings stay in this
 * function: no value reaches a log, an error or the audit trail. `marked`: the values of a
 * template's PHI-marked data fields (ADR 0011 §1), found wherever they appear.
 */
export function applyPhiPolicy(
  policy: OrgPolicy,
  msg: ValidatedMessage,
  marked: readonly string[] = [],
): ValidatedMessage {
  const inputs: PhiInput[] = [{ field: "subject", text: msg.subject }];
  if (msg.text !== null) inputs.push({ field: "text", text: msg.text });
  if (msg.html !== null) inputs.push({ field: "html", text: htmlText(msg.html) });
  const findings = detectPhi(inputs, marked);
  const inSubject = findings.filter((f) => f.field === "subject");
  if (inSubject.length > 0 && policy.subject_phi === "reject")
    throw new SealpostError("phi_in_subject", { field: "subject" });
  return {
    ...msg,
    subject: inSubject.length > 0 ? redact(msg.subject, inSubject) : msg.subject,
    phi: summarize(findings),
    allowNonTls:
      msg.allowNonTls && policy.allow_non_tls && findings.length === 0 && msg.attachments.length === 0,
  };
}
