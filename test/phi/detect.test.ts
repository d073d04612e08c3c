/**
 * The PHI detector category by category (ADR 0010 §2): what each pattern finds and what it
 * leaves alone, overlaps, `marked` values, redaction, the stored summary, the HTML text
 * extraction, and that a 1 MB input is scanned without hanging. All values are made up.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { luhnValid, npiValid, ssnIssuable } from "../../src/phi/checks.ts";
import { detectPhi, redact, summarize } from "../../src/phi/detect.ts";
import { htmlText } from "../../src/phi/html-text.ts";
import type { PhiCategory } from "../../src/phi/types.ts";

/** The [category, matched text] pairs found in `text`. */
function found(text: string, marked: string[] = []): [PhiCategory, string][] {
  return detectPhi([{ field: "text", text }], marked).map((f) => [f.category, text.slice(f.start, f.end)]);
}
function has(text: string, category: PhiCategory, value: string): void {
  assert.ok(
    found(text).some(([c, v]) => c === category && v.includes(value)),
    `${category} ${value} in: ${text}`,
  );
}
function none(text: string, category?: PhiCategory): void {
  const hits = found(text).filter(([c]) => category === undefined || c === category);
  assert.deepEqual(hits, [], `nothing${category ? ` (${category})` : ""} in: ${text}`);
}

test("ssn: dashed issuable numbers, and spaced or bare ones next to an SSN label", () => {
  has("Please confirm 078-05-1120 before the visit.", "ssn", "078-05-1120");
  has("SSN: 123 45 6789", "ssn", "123 45 6789");
  has("Social Security number 123456789 on file", "ssn", "123456789");
  has("SS# 987-65-4321", "ssn", "987-65-4321");
  none("Reference 987-65-4321 was created.", "ssn"); // 9xx is never issued
  none("Lot number 302-55-1840 passed QC.", "ssn");
  none("Order 123456789 shipped; 123 45 6789 items.", "ssn");
  none("Value 000-12-3456 or 123-00-4567 or 123-45-0000.", "ssn");
  none("ID 1078-05-11200 is longer.", "ssn");
});

test("mrn: an identifier after MRN / medical record / patient id / chart", () => {
  has("MRN 00482913", "mrn", "00482913");
  has("MRN:MR0048213 / DOB", "mrn", "MR0048213");
  has("Medical Record Number 4471-2290", "mrn", "4471-2290");
  has("the medical record # is A84427915.", "mrn", "A84427915");
  has("patient ID: PT-448812", "mrn", "PT-448812");
  has("Chart No. 55231", "mrn", "55231");
  has("Your MRN (00482913) is on the band.", "mrn", "00482913");
  none("Please bring your MRN card and patient ID bracelet.");
  none("Chart review meetings are held every 2nd Tuesday.");
  none("MRN 12", "mrn");
});

test("dob: a date right after a birth label, in the usual forms", () => {
  for (const date of [
    "03/14/1962",
    "3/4/62",
    "1962-03-14",
    "March 14, 1962",
    "Mar. 14th, 1962",
    "14 March 1962",
  ]) {
    has(`Patient DOB ${date}, seen today.`, "dob", date);
  }
  has("date of birth: 07-04-1958", "dob", "07-04-1958");
  has("She was born on 1/2/2025 at 3 am.", "dob", "1/2/2025");
  has("Birthdate is Dec 27, 1958", "dob", "Dec 27, 1958");
  has("Date of birth on file: 08/09/2014.", "dob", "08/09/2014");
  none("Your appointment on 03/14/2025 at 10:30 is confirmed.");
  none("Date of service 11/02/2024; DOB and address are required fields.");
  none("She was born in 1985.");
});

test("phone: NANP numbers with separators, +1, extensions; bare digits only with a phone label", () => {
  for (const p of [
    "(617) 555-0142",
    "617-555-0142",
    "617.555.0142",
    "+1 617 555 0142",
    "1-800-555-0199",
    "+1 (617) 555-0142",
    "(617)555-0142",
    "617-555-0142 ext. 204",
    "617-555-0142 x12",
  ]) {
    has(`Call us at ${p} today.`, "phone", p);
  }
  has("mobile 6175550142", "phone", "6175550142");
  has("+16175550142", "phone", "+16175550142");
  none("Use the format 123-456-7890.", "phone"); // area codes never start with 1
  none("Order 617-555-0142 shipped.", "phone");
  none("ISBN 978-0-306-40615-7; batch 2024-117-0053; ZIP 02139-4307.");
  none("Open 10:30-12:45; costs $1,234.56; version 10.4.2.");
  none("Reference 6175550142 was assigned.", "phone");
});

test("icd10: dotted codes, undotted only after an ICD label; tables, versions and doses are not codes", () => {
  for (const c of ["E11.9", "S72.001A", "J45.909", "F32.A", "T78.40XA", "Z00.00", "O9A.11"]) {
    has(`Diagnosis ${c} reviewed.`, "icd10", c);
  }
  has("ICD-10: I10", "icd10", "I10");
  has("Dx E11 follow-up", "icd10", "E11");
  none("Sizes A1 B2 and C3; Vitamin B12 and D3; HbA1c 7.2%.");
  none("See Table S10.2; Model E11.5 filters; Section C50.9; version A12.3.");
  none("Give B12.5 mg daily.", "icd10");
  none("Tracking 1Z999AA10123456784, v2.11.3, e11.9 lower case.", "icd10");
});

test("npi: ten digits with a valid check digit (80840 prefix); failing numbers are not NPIs", () => {
  assert.ok(npiValid("1234567893"));
  assert.ok(!npiValid("1234567890"));
  assert.ok(!npiValid("3234567893"));
  assert.ok(luhnValid("79927398713"));
  assert.ok(ssnIssuable("078", "05", "1120") && !ssnIssuable("666", "05", "1120"));
  has("Referring provider NPI: 1234567893.", "npi", "1234567893");
  has("National Provider Identifier 1588667638", "npi", "1588667638");
  none("NPI 1234567890 (bad check digit)", "npi");
  none("Order 1234567893 shipped.", "npi");
});

test("address: number, street words, suffix, optional unit", () => {
  has("Visit us at 123 Main St, Springfield.", "address", "123 Main St");
  has("Mail to 4500 N. Martin Luther King Jr Blvd Suite 210.", "address", "Suite 210");
  has("Our office: 77 Massachusetts Ave., Apt 4B", "address", "Apt 4B");
  has("At 12 W 42nd Street #5 today", "address", "12 W 42nd Street #5");
  has("1600 Broadway, New York", "address", "1600 Broadway");
  none("We moved 2 Dr. appointments; take 2 tablets daily; Suite 200; Room B12.");
  none("Walk 2 blocks down the road.");
});

test("marked values are found case-insensitively as literals, wherever they are", () => {
  const text = "Dear JANE Roe-Smith, (jane) your results.";
  const f = detectPhi([{ field: "text", text }], ["Jane", "roe-smith", "", "  ", "a.b*c"]);
  assert.deepEqual(
    f
      .filter((x) => x.category === "marked")
      .sort((a, b) => a.start - b.start)
      .map((x) => text.slice(x.start, x.end)),
    ["JANE", "Roe-Smith", "jane"],
  );
  assert.deepEqual(found("a.b*c and aXb*c", ["a.b*c"]), [["marked", "a.b*c"]]);
});

test("findings carry field and offsets; overlapping patterns keep the labelled one", () => {
  const findings = detectPhi([
    { field: "subject", text: "Results for MRN 1234567893" },
    { field: "html", text: "Call 617-555-0142" },
  ]);
  assert.deepEqual(findings, [
    { category: "mrn", field: "subject", start: 16, end: 26 },
    { category: "phone", field: "html", start: 5, end: 17 },
  ]);
  assert.deepEqual(detectPhi([{ field: "text", text: "" }]), []);
});

test("redact replaces each finding (merging overlaps); summarize counts without values", () => {
  const text = "DOB 03/14/1962, call 617-555-0142.";
  const findings = detectPhi([{ field: "subject", text }]);
  assert.equal(redact(text, findings), "DOB [redacted], call [redacted].");
  const overlapping = [
    { category: "marked" as const, field: "subject" as const, start: 0, end: 5 },
    { category: "phone" as const, field: "subject" as const, start: 3, end: 9 },
  ];
  assert.equal(redact("0123456789", overlapping), "[redacted]9");
  assert.deepEqual(summarize(findings), { subject: 2, body: 0, categories: { dob: 1, phone: 1 } });
  assert.deepEqual(summarize([...findings, { category: "ssn", field: "text", start: 0, end: 1 }]), {
    subject: 2,
    body: 1,
    categories: { dob: 1, phone: 1, ssn: 1 },
  });
  assert.equal(summarize([]), null);
  assert.ok(!JSON.stringify(summarize(findings)).includes("1962"));
});

test("htmlText keeps what a reader sees: no tags, scripts or styles; entities decoded", () => {
  const html = `<!DOCTYPE html><html><head><title>Notice</title><style>p{color:red}</style>
    <script>var ssn = "078-05-1120";</script></head><body>
    <p>SSN&nbsp;078&#45;05&#x2D;1120 &amp; more</p><!-- 123-45-6789 -->
    <table><tr><td>123</td><td>Main St</td></tr></table>
    <img src="x.png" alt="MRN 00482913"><a title="a>b" href="#">E1<b>1.9</b></a>
    <SCRIPT type="x">hidden</SCRIPT>tail 5&lt;6 &unknown; &copy 0&#8203;78</body></html>`;
  const text = htmlText(html);
  assert.equal(
    text,
    "Notice\nSSN 078-05-1120 & more\n123\nMain St\nMRN 00482913 E11.9 tail 5<6 &unknown; © 078",
  );
  const cats = detectPhi([{ field: "html", text }]).map((f) => f.category);
  // "123" and "Main St" in adjacent cells read as an address too: patterns may span a line break.
  assert.deepEqual(cats.sort(), ["address", "icd10", "mrn", "ssn"]);
  assert.equal(htmlText("plain <b>text</b> with a lone < sign"), "plain text with a lone < sign");
  assert.equal(htmlText("<p>unclosed <script>never ends"), "unclosed");
  assert.equal(htmlText(""), "");
});

test("a 1 MB input is scanned (no catastrophic backtracking)", () => {
  const chunks = [
    "1 ".repeat(1000),
    "MRN ".repeat(500),
    "DOB: ".repeat(500),
    "9".repeat(5000),
    "123 Aaaa Bbbb Cccc Dddd Eeee ".repeat(300),
    "A1".repeat(2000),
    "617-555-".repeat(800),
    " ".repeat(20000),
    "<".repeat(5000),
  ];
  let text = "";
  while (text.length < 1_000_000) text += chunks.join(" Patient DOB 03/14/1962 call 617-555-0142 ");
  const findings = detectPhi([{ field: "text", text }], ["Aaaa"]);
  assert.ok(findings.some((f) => f.category === "dob"));
  assert.ok(findings.some((f) => f.category === "phone"));
  const html = `<p>${"<b>x</b>&amp;".repeat(60_000)}<script>${"<".repeat(100_000)}`;
  assert.ok(htmlText(html).length > 0);
});
