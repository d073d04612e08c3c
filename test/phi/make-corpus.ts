/**
 * Writes the synthetic labelled PHI corpus, test/fixtures/phi-corpus.jsonl (ADR 0010 §2):
 * healthcare-email sentences (reminders, lab notices, referrals, billing, intake) with every
 * PHI value labelled by category and exact text, plus hard negatives (order, invoice and
 * tracking numbers, plain dates, ZIP codes, times, prices, versions, product codes,
 * ICD-like words, 10-digit numbers failing the NPI check, numbers shaped like phones).
 *
 * Everything is made up: names from common-name lists, numbers from a seeded generator,
 * phone numbers mostly in the fictional 555-01xx range. The templates were written before
 * the detector and are not tuned to it. Run `node test/phi/make-corpus.ts` to regenerate
 * (deterministic: the same seed gives the same file).
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export interface CorpusSpan {
  category: string;
  text: string;
}
export interface CorpusLine {
  text: string;
  spans: CorpusSpan[];
  marked?: string[];
}

let seed = 0x5ea1_9057;
function rand(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
function pick<T>(xs: readonly T[]): T {
  return xs[int(0, xs.length - 1)] as T;
}
const pad = (n: number, w: number) => String(n).padStart(w, "0");
const digits = (n: number) => Array.from({ length: n }, () => int(0, 9)).join("");

const FIRST = [
  "Maria",
  "James",
  "Aisha",
  "Wei",
  "Olivia",
  "Mateo",
  "Priya",
  "Noah",
  "Fatima",
  "Liam",
  "Sofia",
  "Ethan",
  "Grace",
  "Hiroshi",
  "Chloe",
  "Diego",
  "Amara",
  "Lucas",
  "Hannah",
  "Omar",
  "Ava",
  "Tomasz",
  "Leah",
  "Kwame",
];
const LAST = [
  "Alvarez",
  "Nguyen",
  "Patel",
  "Johnson",
  "Okafor",
  "Kowalski",
  "Chen",
  "Rivera",
  "Brooks",
  "Haddad",
  "Murphy",
  "Tanaka",
  "Schmidt",
  "Garcia",
  "Lindqvist",
  "Mensah",
  "Rossi",
  "Cohen",
  "Singh",
  "Dubois",
];
const CLINICS = [
  "Riverside Family Medicine",
  "North Shore Cardiology",
  "Lakeview Pediatrics",
  "Harbor Imaging Center",
  "Summit Orthopedics",
  "Bayside Women's Health",
  "Cedar Valley Dermatology",
  "Westgate Endocrinology",
];
const STREETS = [
  "Oak",
  "Maple",
  "Elm",
  "Washington",
  "Lincoln",
  "Main",
  "Cedar",
  "Pine",
  "Highland",
  "Park",
  "Lake",
  "Hillside",
  "Beacon",
  "Commonwealth",
  "Martin Luther King Jr",
  "Sunset",
  "River",
  "Mill",
  "Church",
  "Chestnut",
  "Walnut",
  "Franklin",
  "Jefferson",
  "Madison",
  "Spring",
  "Prospect",
  "5th",
  "42nd",
  "1st",
  "Old Country",
  "Cedar Hill",
  "Forest Glen",
  "Willow Creek",
  "Harborview",
  "Saint Paul",
];
const SUFFIXES = [
  "Street",
  "St",
  "St.",
  "Avenue",
  "Ave",
  "Ave.",
  "Road",
  "Rd",
  "Rd.",
  "Boulevard",
  "Blvd",
  "Lane",
  "Ln",
  "Drive",
  "Dr",
  "Dr.",
  "Court",
  "Ct",
  "Place",
  "Pl",
  "Way",
  "Parkway",
  "Pkwy",
  "Terrace",
  "Circle",
  "Highway",
  "Hwy",
];
const UNITS = [
  "Apt 4B",
  "Apt. 12",
  "Suite 210",
  "Ste 300",
  "Ste. 1400",
  "Unit 7",
  "#5",
  "Apartment 3C",
  "Suite B",
];
const CITIES = [
  ["Springfield", "IL", "62704"],
  ["Worcester", "MA", "01608"],
  ["Tacoma", "WA", "98402"],
  ["Dayton", "OH", "45402"],
  ["Tucson", "AZ", "85701"],
  ["Raleigh", "NC", "27601"],
  ["Albany", "NY", "12207"],
  ["Boise", "ID", "83702"],
  ["Madison", "WI", "53703"],
];
const ICD = [
  "E11.9",
  "J45.909",
  "M54.5",
  "F32.A",
  "Z00.00",
  "S72.001A",
  "E78.5",
  "K21.9",
  "N39.0",
  "R51.9",
  "G43.909",
  "J06.9",
  "E66.9",
  "F41.1",
  "M17.11",
  "I25.10",
  "Z79.4",
  "C50.911",
  "D64.9",
  "H52.4",
  "L40.0",
  "T78.40XA",
  "W19.XXXA",
  "Z30.011",
  "U07.1",
  "E03.9",
  "I48.91",
  "R07.9",
  "O24.419",
  "M79.604",
  "Z12.31",
  "E55.9",
  "J18.9",
  "N18.3",
  "B20.1",
];
const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];

function person() {
  return { first: pick(FIRST), last: pick(LAST) };
}

function ssn(): string {
  let area = int(1, 899);
  if (area === 666) area = 665;
  const a = pad(area, 3);
  const g = pad(int(1, 99), 2);
  const s = pad(int(1, 9999), 4);
  return `${a}-${g}-${s}`;
}
function ssnAnyForm(): string {
  const v = ssn();
  const r = rand();
  if (r < 0.7) return v;
  if (r < 0.85) return v.replaceAll("-", " ");
  return v.replaceAll("-", "");
}

function mrn(): string {
  return pick([
    () => digits(8),
    () => `MR${digits(7)}`,
    () => `${digits(4)}-${digits(4)}`,
    () => `A${digits(8)}`,
    () => `PT-${digits(6)}`,
    () => `${int(1, 9)}${digits(9)}`,
    () => `E-${digits(5)}`,
    () => digits(7),
  ])();
}

function dateParts(fromYear: number, toYear: number) {
  return { y: int(fromYear, toYear), m: int(1, 12), d: int(1, 28) };
}
function formatDate({ y, m, d }: { y: number; m: number; d: number }, short = false): string {
  const month = MONTHS[m - 1] ?? "March";
  return pick([
    () => `${pad(m, 2)}/${pad(d, 2)}/${y}`,
    () => `${m}/${d}/${y}`,
    () => (short ? `${m}/${d}/${y}` : `${pad(m, 2)}/${pad(d, 2)}/${String(y).slice(2)}`),
    () => `${y}-${pad(m, 2)}-${pad(d, 2)}`,
    () => `${month} ${d}, ${y}`,
    () => `${month.slice(0, 3)} ${d}, ${y}`,
    () => `${d} ${month} ${y}`,
    () => `${pad(m, 2)}-${pad(d, 2)}-${y}`,
    () => `${month} ${d}${d === 1 ? "st" : d === 2 ? "nd" : d === 3 ? "rd" : "th"}, ${y}`,
  ])();
}
const dob = () => formatDate(dateParts(1931, 2019));
const dobRecent = () => formatDate(dateParts(2025, 2026), true);
function plainDate(): string {
  const p = dateParts(2025, 2026);
  const month = MONTHS[p.m - 1] ?? "March";
  return pick([
    () => `${pad(p.m, 2)}/${pad(p.d, 2)}/${p.y}`,
    () => `${month} ${p.d}`,
    () => `${month} ${p.d}, ${p.y}`,
    () => `${p.y}-${pad(p.m, 2)}-${pad(p.d, 2)}`,
    () => `${pick(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"])}, ${month} ${p.d}`,
    () => `${p.m}/${p.d}`,
  ])();
}
const time = () =>
  pick([
    () => `${int(7, 11)}:${pick(["00", "15", "30", "45"])} AM`,
    () => `${int(1, 5)}:${pick(["00", "15", "30", "45"])} pm`,
    () => `${int(13, 17)}:${pick(["00", "30"])}`,
    () => `${int(8, 11)} am`,
  ])();

function phone(): string {
  const area = pick(["617", "312", "206", "415", "512", "919", "303", "608", "402", "800", "888", "213"]);
  const line = rand() < 0.75 ? `01${digits(2)}` : `${int(2, 9)}${digits(3)}`;
  const exch = rand() < 0.8 ? "555" : `${int(2, 9)}${digits(2)}`;
  const base = pick([
    () => `(${area}) ${exch}-${line}`,
    () => `${area}-${exch}-${line}`,
    () => `${area}.${exch}.${line}`,
    () => `+1 ${area} ${exch} ${line}`,
    () => `1-${area}-${exch}-${line}`,
    () => `+1 (${area}) ${exch}-${line}`,
    () => `(${area})${exch}-${line}`,
    () => `${area} ${exch} ${line}`,
  ])();
  return rand() < 0.15 ? `${base} ${pick(["ext. ", "x", "ext ", "extension "])}${int(10, 9999)}` : base;
}

function luhnOk(s: string): boolean {
  let sum = 0;
  for (let i = 0; i < s.length; i++) {
    let d = Number(s[s.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}
function npi(): string {
  const body = `${int(1, 2)}${digits(8)}`;
  for (let c = 0; c <= 9; c++) if (luhnOk(`80840${body}${c}`)) return `${body}${c}`;
  throw new Error("unreachable");
}
function tenDigitsFailingNpi(): string {
  for (;;) {
    const v = `${int(1, 2)}${digits(9)}`;
    if (!luhnOk(`80840${v}`)) return v;
  }
}

function street(): string {
  const num = rand() < 0.1 ? `${int(1, 99)}${pick(["A", "B"])}` : String(int(1, rand() < 0.5 ? 999 : 48000));
  const dir = rand() < 0.15 ? `${pick(["N", "S.", "East", "W", "North"])} ` : "";
  const unit = rand() < 0.3 ? `${rand() < 0.5 ? ", " : " "}${pick(UNITS)}` : "";
  if (rand() < 0.04) return `${num} ${pick(["Broadway", "El Camino Real"])}${unit}`;
  const s = `${num} ${dir}${pick(STREETS)} ${pick(SUFFIXES)}${unit}`;
  return rand() < 0.04 ? s.toLowerCase() : s;
}
const cityLine = () => {
  const [c, st, z] = pick(CITIES);
  return `${c}, ${st} ${z}`;
};

interface Slot {
  value: string;
  category?: string;
}
type Gen = () => Slot;
const phi =
  (category: string, f: () => string): Gen =>
  () => ({ value: f(), category });
const plain =
  (f: () => string): Gen =>
  () => ({ value: f() });

const SLOTS: Record<string, Gen> = {
  ssn: phi("ssn", ssn),
  ssnany: phi("ssn", ssnAnyForm),
  mrn: phi("mrn", mrn),
  dob: phi("dob", dob),
  dobnew: phi("dob", dobRecent),
  phone: phi("phone", phone),
  icd: phi("icd10", () => pick(ICD)),
  npi: phi("npi", npi),
  addr: phi("address", street),
  city: plain(cityLine),
  first: plain(() => person().first),
  last: plain(() => person().last),
  doctor: plain(() => `Dr. ${person().last}`),
  clinic: plain(() => pick(CLINICS)),
  date: plain(plainDate),
  time: plain(time),
  price: plain(() =>
    pick([`$${int(1, 9)},${digits(3)}.00`, `$${int(10, 499)}.${digits(2)}`, `$${int(10, 99)}`]),
  ),
  a1c: plain(() => `${int(5, 11)}.${int(0, 9)}`),
  pin: plain(() => digits(6)),
  order9: plain(() => digits(9)),
  order10: plain(() => `${int(1, 9)}${digits(9)}`),
  bad10: plain(tenDigitsFailingNpi),
  invoice: plain(() => pick([`INV-2025-${digits(5)}`, `${int(10, 99)}-${digits(6)}`, `A-${digits(7)}`])),
  tracking: plain(() =>
    pick([
      `1Z${digits(3)}AA1${digits(10)}`,
      `9400 ${digits(4)} ${digits(4)} ${digits(4)} ${digits(4)} ${digits(2)}`,
    ]),
  ),
  zip: plain(() => pick([pick(CITIES)[2] ?? "02139", `${digits(5)}-${digits(4)}`])),
  version: plain(() => pick([`${int(1, 12)}.${int(0, 20)}.${int(0, 9)}`, `v${int(1, 5)}.${int(0, 20)}`])),
  last4: plain(() => digits(4)),
  ticket: plain(() => `${int(1, 9)}${digits(5)}`),
  claim: plain(() => pick([`CLM-${digits(5)}-B`, digits(12), `${digits(3)}${int(1, 9)}${digits(8)}`])),
  code: plain(() =>
    pick([
      `${int(1, 9)}${digits(2)}-${digits(3)}`,
      `QX${digits(4)}`,
      `${digits(4)} ${digits(4)} ${digits(4)}`,
    ]),
  ),
};

/** Sentences with PHI. `{name}` slots; repeated names get fresh values. */
const POSITIVE = [
  // Appointment reminders
  "Hi {first}, this is a reminder of your appointment with {doctor} on {date} at {time}. Questions? Call {phone}.",
  "Reminder: {first} {last} (DOB {dob}) is scheduled for a follow-up on {date}.",
  "Your visit at {clinic}, {addr}, {city}, is confirmed for {date} at {time}.",
  "Please arrive 15 minutes early to {addr}, {city}. Parking is available behind the building.",
  "To reschedule, reply to this email or call our front desk at {phone}.",
  "{first}, your annual physical is due. Book online or phone {phone} between 8 and 5.",
  "We have you down for {date} at {time} with {doctor}; your MRN is {mrn}.",
  "Patient {first} {last}, MRN {mrn}, DOB {dob}: pre-op instructions are attached.",
  "Your telehealth link for {date} is in the portal. If it fails, dial {phone} and enter meeting code {pin}.",
  "Appointment change: {doctor} will now see you at our {addr} location on {date}.",
  "Appt reminder {date} {time} - call {phone} to confirm or cancel.",
  "RE: {first} {last} DOB {dob} - appointment request",
  // Lab notices
  "Lab results for {first} {last} (MRN: {mrn}) are ready. Diagnosis code {icd} was reviewed.",
  "Your A1C came back at {a1c}% on {date}; {doctor} wants to discuss your {icd} care plan.",
  "Specimen collected {date} for patient ID {mrn}; please call the lab at {phone} with questions.",
  "Results: lipid panel within range. Dx: {icd}. Next draw due {date}.",
  "The pathology report for {first} {last}, date of birth {dob}, has been finalized.",
  "Critical value called to {doctor} at {time}: potassium 6.1 for MRN {mrn}.",
  "Your COVID-19 test from {date} was negative. ICD-10 {icd} was recorded for the visit.",
  "Imaging for Medical Record Number {mrn} is complete; the radiologist's read is in the portal.",
  "Lab results for MRN {mrn}",
  // Referrals
  "Referring {first} {last} (DOB: {dob}, MRN {mrn}) to cardiology for {icd}.",
  "Referral from {doctor}, NPI {npi}, for evaluation of {icd}.",
  "Please fax the referral to {phone} and include the referring provider's NPI: {npi}.",
  "New referral: the patient lives at {addr}, {city}; best contact {phone}.",
  "Ordering provider: {doctor}, National Provider Identifier {npi}, {clinic}.",
  "{first} {last}, born {dob}, is referred for physical therapy, diagnosis {icd}.",
  "Consult request: chart #{mrn}, primary dx {icd}, secondary {icd}.",
  "The orthopedic office at {addr} will contact you within two business days.",
  "Referral received for patient ID: {mrn}. The specialist's office is at {addr}, {city}.",
  // Billing
  "Statement for account holder {first} {last}, SSN {ssn}, balance {price}.",
  "To verify your identity for billing, we have Social Security number {ssnany} on file.",
  "Claim for date of service {date} under rendering NPI {npi} was denied; code {icd} requires prior authorization.",
  "Please mail payment to {addr}, {city}, or pay online. Questions: {phone}.",
  "Your insurance claim for {icd} was processed on {date}; patient responsibility is {price}.",
  "Billing provider NPI {npi}; patient DOB {dob}; amount billed {price}.",
  "We could not match SSN {ssnany} to the policy holder; please call {phone}.",
  "Guarantor address updated to {addr}, {city}.",
  "Your payment of {price} was applied to the account for MRN {mrn} on {date}.",
  // Pharmacy / intake / records
  "Pharmacy: the prescription for {first} {last} (DOB {dob}) is ready for pickup at {addr}.",
  "Intake form received. SS#: {ssnany}. Home phone: {phone}. Address: {addr}, {city}.",
  "Emergency contact for MRN {mrn}: {first} {last}, cell {phone}.",
  "Patient reports date of birth as {dob}; please correct the chart.",
  "Discharge summary: {icd} and {icd}; follow up with {doctor} at {phone}.",
  "Records request for {first} {last}, D.O.B. {dob}, Medical Record Number {mrn}.",
  "Home health visit scheduled at {addr} on {date} at {time}.",
  "Please verify your social security number ({ssn}) on the enclosed form.",
  "{first}'s birthdate is {dob} and the medical record # is {mrn}.",
  "The baby was born on {dobnew} at {time}; MRN {mrn} has been assigned.",
  "Call me back at {phone}, I'm at work until 5.",
  "New address on file: {addr}, {city}.",
  "Our billing office has moved to {addr}, {city}.",
  "{doctor}'s direct line is {phone}; her NPI is {npi}.",
  "Vaccination record: {first} {last}, born {dob}, dose given {date}.",
  "Workers' comp case: injury coded {icd}, claimant SSN {ssn}.",
  "Prior auth approved for {icd}; provider NPI {npi}; patient ID {mrn}.",
  "Text STOP to opt out. Reply HELP or call {phone}.",
  "Hospice intake for {first} {last}, DOB {dob}, SSN {ssn}, {addr}, {city}.",
  "Chart {mrn} flagged for review: {icd}.",
  "Please send the records to {doctor}, {clinic}, {addr}, phone {phone}, fax {phone}.",
  "Wrong number? The correct after-hours line is {phone}.",
  "MRN:{mrn} / DOB:{dob} / Dx:{icd}",
  "Pt ID {mrn} - {icd} - f/u 2 wks",
  "Date of birth on file: {dob}. If this is wrong, call {phone}.",
  "Your ICD-10 code for this visit was {icd}.",
  "Member services: {phone} (TTY 711), Monday to Friday.",
  "Birth date: {dob}   Sex: F   Chart No. {mrn}",
  "Per our call, {first} was born {dob} and lives at {addr}.",
  "Reach the on-call nurse at {phone} any time after {time}.",
  "Medicaid application: applicant SSN {ssnany}, date of birth {dob}.",
  "Subject: Referral for {first} {last} - MRN {mrn}",
  "Our new Westside clinic opens at {addr} on {date}.",
  "{doctor} (NPI: {npi}) signed the order on {date}.",
  "Documentation supports {icd} with complications; please query {doctor}.",
  "Patient Identifier {mrn} matched two records; please review.",
  "Contact: {first} {last}, {addr}, {city}, {phone}.",
];

/** Sentences without PHI (hard negatives), or with PHI next to look-alikes. */
const NEGATIVE = [
  "Your order #{order9} has shipped and should arrive by {date}.",
  "Invoice {invoice} for {price} is due on {date}.",
  "Track your package: {tracking}.",
  "Our office hours are 8:00 AM to 5:30 PM, Monday through Friday.",
  "The clinic will be closed on {date} for the holiday.",
  "Please update the patient portal app to version {version}.",
  "Your copay for today's visit is {price}.",
  "Lab draw appointments are available between {time} and {time}.",
  "The flu shot clinic runs {date} through {date} at all locations.",
  "Reference number {bad10} was assigned to your request.",
  "Confirmation code: {code}.",
  "Sizes A1 B2 and C3 are in stock at the front desk.",
  "Take 2 tablets by mouth every 8 hours with food.",
  "Room B12 is on the second floor next to Suite 200.",
  "Vitamin B12 and D3 levels were ordered for your next visit.",
  "See Table S10.2 in the supplementary appendix for dosing.",
  "Firmware {version} fixes the glucose meter sync issue.",
  "Our mailing ZIP code is {zip}.",
  "Order {order10} ships in 3-5 business days.",
  "The survey takes about 5 minutes and closes {date}.",
  "ISBN 978-0-306-40615-7 is the patient handbook edition we use.",
  "Your account number ends in {last4}.",
  "Price list updated: MRI {price}, CT {price}, X-ray {price}.",
  "Please bring your insurance card and photo ID to your visit on {date}.",
  "Patient ID bracelets must be worn at all times.",
  "The MRN field on the form is required.",
  "Date of birth and address are required fields on the intake form.",
  "Serial number SN-4432-7781-09 belongs to the loaner CPAP device.",
  "The meeting moved to {time} in conference room 4B.",
  "Model E11.5 replacement filters are back in stock.",
  "Section C50.9 of the bylaws covers records retention.",
  "We are located on the 3rd floor; elevators are at the north entrance.",
  "Batch 2024-117-0053 of the vaccine was recalled by the manufacturer.",
  "Lot number 302-55-1840 passed quality control.",
  "Please dial extension 4410 from any clinic phone.",
  "Wait times average 12 minutes; 98.6% of patients were seen within 30 minutes.",
  "The 2025-2026 formulary is attached (142 pages).",
  "Refund of {price} issued on {date} to the card ending {last4}.",
  "Our new fax workflow goes live on {date}.",
  "Please complete the W-9 and Form 1099 by January 31.",
  "Password reset codes expire in 10 minutes.",
  "Ticket #{ticket} has been resolved by IT support.",
  "Use the format 123-456-7890 when entering numbers in the form.",
  "Claim number {claim} was received on {date}.",
  "Coordinates 42.3601, -71.0589 mark the parking garage entrance.",
  "Step 3.2 of the protocol requires two patient identifiers.",
  "The A1 parking level and B2 storage level reopen Monday.",
  "Flight UA 1542 departs at 6:05 pm; the shuttle leaves at 4:30.",
  "Our 24/7 nurse line answers in about 90 seconds.",
  "The PIN for the supply lockbox is {pin}.",
  "Batch job 20250314-0930 completed without errors.",
  "HbA1c targets below 7.0% are recommended for most adults.",
  "Newsletter issue 48, volume 12, is attached.",
  "{doctor} sees 20 patients a day at 3 clinics.",
  "Over 1,200 members joined in 2024, up 14% from 2023.",
  "Open enrollment runs November 1 through December 15.",
  "Chart review meetings are held every 2nd Tuesday at {time}.",
  "Your estimate for the procedure is {price} before insurance.",
  "Appointment on {date} at {time} with {doctor} is confirmed.",
  "Results from {date} are now available in your portal.",
  "The date of service was {date}; no balance is due.",
  "Dosage: 2.5 mg twice daily; refills: 3.",
  "Reorder part 555-0142-A for the exam table (qty 4).",
  "Our Wi-Fi password changed on {date}.",
  "Please allow 7-10 business days for processing.",
  "Gate C14 at Terminal 2 is closest to the shuttle stop.",
  "The CPT code 99213 was billed for an established patient visit.",
  "Order {bad10} was cancelled at your request.",
  "Tracking {tracking} shows the kit was delivered at {time}.",
  "Version 10.4.2 of the scheduler adds text reminders.",
  "Your {date} visit lasted 25 minutes.",
  "We moved 2 Dr. appointments to the afternoon.",
  "Aspirin 81 mg, Metformin 500 mg and Lisinopril 10 mg were reconciled.",
  "Invoice total: {price} (tax {price}).",
  "The shipment weighs 12.5 lbs and measures 14 x 10 x 6 in.",
  "Temperature logs must stay between 36 and 46 F.",
  "Our fiscal year 2025-26 budget was approved.",
  "IT asset tag 2041-88-1932 was assigned to the front desk laptop.",
  "Fax cover sheets are in drawer 3.",
  "The patient portal supports iOS 17.5 and Android 14.",
  "Call volume rose 8% between {date} and {date}.",
];

const MARKED = [
  { t: "Hi {first} {last}, your results are ready in the portal.", m: ["first", "last"] },
  { t: "{first} {last} has a new message from {clinic}.", m: ["first", "last"] },
  { t: "Dear {first}, thank you for choosing {clinic}.", m: ["first"] },
  { t: "{last} family: the visit on {date} is confirmed.", m: ["last"] },
];

/** Hand-written lines, added after the first measurement as a held-out check (see docs/phi-detection.md). */
const HANDWRITTEN: CorpusLine[] = [
  { text: "We are a 5 Minute Drive from downtown, with free parking.", spans: [] },
  { text: "The study enrolled 1,250 patients across 12 sites in 2024.", spans: [] },
  { text: "Dial 911 in an emergency; do not reply to this email.", spans: [] },
  { text: "Our Tax ID 04-3456789 is printed on the W-9.", spans: [] },
  { text: "Net 30 terms apply to PO 4500012345.", spans: [] },
  { text: "Visit us at booth 1204 Main Hall during the conference.", spans: [] },
  { text: "The ICD-10 transition happened in 2015 and ICD-11 is next.", spans: [] },
  { text: "Version A12.3 of the consent form replaces the old one.", spans: [] },
  { text: "Flight AA 1234, seat 12C, lands at 6:40 pm.", spans: [] },
  { text: "Use code SAVE10 at checkout; the H1N1 vaccine is in stock.", spans: [] },
  { text: "She was born in 1985 and moved here in 2010.", spans: [] },
  { text: "SSN on file: ***-**-1120 (masked).", spans: [] },
  { text: "Phase 2 Clinical Trial enrollment closes 12/31/2025.", spans: [] },
  { text: "Your Rx 7712345 is ready; 30 tablets, 2 refills.", spans: [] },
  { text: "Room 4410, 2 North Tower, is the infusion suite.", spans: [] },
  { text: "Readings of 120/80 and 135/85 were recorded on 3/2 and 3/9.", spans: [] },
  { text: "Routing 021000021, account ending 4410, for the refund.", spans: [] },
  { text: "Please call between 9 and 5 at 555-0142.", spans: [{ category: "phone", text: "555-0142" }] },
  {
    text: "From London? Call our partner clinic on +44 20 7946 0958.",
    spans: [{ category: "phone", text: "+44 20 7946 0958" }],
  },
  {
    text: "Our main campus is One Main Street, Springfield, IL 62704.",
    spans: [{ category: "address", text: "One Main Street" }],
  },
  {
    text: "The imaging center is at 1200 Avenue of the Americas, 4th floor.",
    spans: [{ category: "address", text: "1200 Avenue of the Americas" }],
  },
  {
    text: "Your MRN (00482913) is printed on your wristband.",
    spans: [{ category: "mrn", text: "00482913" }],
  },
  {
    text: "NPI number 1588667638 is listed for Dr. Haddad.",
    spans: [{ category: "npi", text: "1588667638" }],
  },
  {
    text: "Mr. Tanaka, born 03/14/62 in Boston, asked for his records.",
    spans: [{ category: "dob", text: "03/14/62" }],
  },
  {
    text: "Pt is a 67 y/o male, DOB 7.4.1958, seen for I10 and E78.5.",
    spans: [
      { category: "dob", text: "7.4.1958" },
      { category: "icd10", text: "I10" },
      { category: "icd10", text: "E78.5" },
    ],
  },
  {
    text: "Send forms to 77 Massachusetts Ave., Room 4-120, Cambridge.",
    spans: [{ category: "address", text: "77 Massachusetts Ave., Room 4-120" }],
  },
  {
    text: "mobile 6175550142, work 617-555-0199 x204",
    spans: [
      { category: "phone", text: "6175550142" },
      { category: "phone", text: "617-555-0199 x204" },
    ],
  },
  {
    text: "The patient's Social Security No. is 219-09-9999 per the intake sheet.",
    spans: [{ category: "ssn", text: "219-09-9999" }],
  },
  {
    text: "Medical record no. 12-004-877 was merged into 12-004-878.",
    spans: [{ category: "mrn", text: "12-004-877" }],
  },
  {
    text: "Diagnoses: type 2 diabetes (E11.65), CKD stage 3a (N18.31), obesity (E66.01).",
    spans: [
      { category: "icd10", text: "E11.65" },
      { category: "icd10", text: "N18.31" },
      { category: "icd10", text: "E66.01" },
    ],
  },
  {
    text: "Patient DOB is 11/30/1947; the appointment on 12/01/2025 stands.",
    spans: [{ category: "dob", text: "11/30/1947" }],
  },
  {
    text: "Call (800) 555-0100 to order supplies; order 8005550100 shipped.",
    spans: [{ category: "phone", text: "(800) 555-0100" }],
  },
];

function fill(template: string): CorpusLine {
  const spans: CorpusSpan[] = [];
  const text = template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const gen = SLOTS[name];
    if (!gen) throw new Error(`unknown slot ${name}`);
    const slot = gen();
    if (slot.category) spans.push({ category: slot.category, text: slot.value });
    return slot.value;
  });
  return { text, spans };
}

function fillMarked(template: string, markedNames: readonly string[]): CorpusLine {
  const spans: CorpusSpan[] = [];
  const marked: string[] = [];
  const text = template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const gen = SLOTS[name];
    if (!gen) throw new Error(`unknown slot ${name}`);
    const slot = gen();
    if (markedNames.includes(name)) {
      marked.push(slot.value);
      spans.push({ category: "marked", text: slot.value });
    } else if (slot.category) spans.push({ category: slot.category, text: slot.value });
    return slot.value;
  });
  return { text, spans, marked };
}

export function makeCorpus(): CorpusLine[] {
  const lines: CorpusLine[] = [];
  const seen = new Set<string>();
  const add = (l: CorpusLine) => {
    if (seen.has(l.text)) return;
    seen.add(l.text);
    lines.push(l);
  };
  for (let round = 0; round < 4; round++) for (const t of POSITIVE) add(fill(t));
  for (let round = 0; round < 2; round++) for (const t of NEGATIVE) add(fill(t));
  for (let round = 0; round < 3; round++) for (const { t, m } of MARKED) add(fillMarked(t, m));
  for (const l of HANDWRITTEN) add(l);
  // Shuffle so categories and negatives are interleaved.
  for (let i = lines.length - 1; i > 0; i--) {
    const j = int(0, i);
    [lines[i], lines[j]] = [lines[j] as CorpusLine, lines[i] as CorpusLine];
  }
  return lines;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = new URL("../fixtures/phi-corpus.jsonl", import.meta.url);
  const lines = makeCorpus();
  writeFileSync(out, `${lines.map((l) => JSON.stringify(l)).join("\n")}\n`);
  console.log(`wrote ${lines.length} lines to ${fileURLToPath(out)}`);
}
