/**
 * The regular expressions of the PHI detector (ADR 0010 §2), one group per category plus
 * the context labels that confirm or veto a match.
 *
 * Every quantifier that can repeat more than once is bounded and no quantified group contains
 * an unbounded quantifier, so the work per starting position is a small constant and a scan
 * is linear in the input (a 1 MB body cannot make the backtracking engine hang).
 */

const MONTH =
  "(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)";
const ORDINAL = "(?:st|nd|rd|th)?";

/** A calendar date in the usual US, ISO and written forms. */
const DATE = [
  "\\d{1,2}[/.-]\\d{1,2}[/.-](?:\\d{4}|\\d{2})",
  "\\d{4}-\\d{1,2}-\\d{1,2}",
  `${MONTH}\\.?\\s{1,3}\\d{1,2}${ORDINAL},?\\s{1,3}\\d{4}`,
  `\\d{1,2}${ORDINAL}\\s{1,3}(?:of\\s{1,3})?${MONTH}\\.?,?\\s{1,3}\\d{4}`,
].join("|");

/** Social Security number: 3-2-4 digits with one consistent separator (dash, space or none). */
export const SSN = /(?<![\w-])(\d{3})([- ]?)(\d{2})\2(\d{4})(?![\w-]|[.,]\d)/g;

/** Confirms an SSN: a label in the text just before it. */
export const SSN_CONTEXT = /\b(?:SSN|SS\s?#|SS\s?No\b|soc(?:ial)?\.?\s{1,3}sec(?:urity)?\b)/i;

/** Medical record number: the label, a few linking words, then the identifier (group 1). */
export const MRN = new RegExp(
  "\\b(?:MRN|M\\.R\\.N\\.?|medical\\s{1,3}record(?:\\s{1,3}(?:number|num|no\\.?|#))?" +
    "|patient\\s{1,3}(?:ID|identifier|number|no\\.?|#)|pt\\.?\\s{1,3}(?:ID|#)|chart(?:\\s{1,3}(?:number|num|no\\.?|#))?)(?![A-Za-z])" +
    "(?:\\s{0,3}(?:is|was|of|:|#|-|=|\\()){0,2}\\s{0,3}" +
    "([A-Z]{0,3}-?\\d[\\d-]{2,14}[A-Z\\d]?)(?![\\w-])",
  "dgi",
);

/** Date of birth: a birth label, a few linking words, then a date (group 1). */
export const DOB = new RegExp(
  "\\b(?:DOB|D\\.O\\.B\\.?|date\\s{1,3}of\\s{1,3}birth|birth\\s{0,3}date|birthday|born(?:\\s{1,3}on)?)(?![A-Za-z])" +
    "(?:\\s{0,3}(?:is|was|as|of|on|file|listed|recorded|:|-|=|\\(|,)){0,4}\\s{0,3}" +
    `(${DATE})(?![\\d/-])`,
  "dgi",
);

/** NANP phone number: optional +1, area code and exchange 2–9xx, line, optional extension. */
export const PHONE =
  /(?<![\w+.-])(?:\+?1[\s.-]?)?(?:\([2-9]\d{2}\)\s?|[2-9]\d{2}[\s.-])[2-9]\d{2}[\s.-]\d{4}(?:\s{0,2}(?:ext\.?|extension|x)\s{0,2}\d{1,6})?(?![\w-]|[.,]\d)/gi;

/** Ten digits with nothing between: a phone only with a phone label (or a +1), else maybe an NPI. */
export const TEN_DIGITS = /(?<![\w+-])(\+?1)?(\d{10})(?![\w-]|[.,]\d)/g;

/** Confirms a bare 10-digit phone number. */
export const PHONE_CONTEXT = /\b(?:phone|tel|telephone|call|cell|mobile|fax|text|sms|dial|line|contact)\b/i;

/** Confirms an NPI. */
export const NPI_CONTEXT = /\b(?:NPI|national\s{1,3}provider(?:\s{1,3}identifier)?)\b/i;

/** ICD-10-CM in the dotted form: category (letter, digit, digit or A/B), dot, 1–4 characters. */
export const ICD10 = /(?<![\w.-])[A-Z]\d[0-9AB]\.[0-9A-Z]{1,4}(?![\w-]|\.\d)/g;

/** ICD-10 category without the dot (I10, E11), only straight after an ICD / diagnosis label. */
export const ICD10_LABELLED =
  /\b(?:ICD(?:-?10)?(?:-CM)?|dx|diagnosis(?:\s{1,3}code)?)\s{0,3}[:#-]?\s{0,3}([A-Z]\d[0-9AB])(?![\w.-])/dgi;

/** Vetoes a dotted code that is a table, version, model or dose instead. */
export const ICD10_VETO_BEFORE =
  /\b(?:table|tab|figure|fig|section|sec|step|chapter|ch|page|p|version|ver|v|model|form|room|rm|gate|part|item|sku|lot|flight|rule|appendix|exhibit|article|clause|no)\.?\s{0,2}#?\s{0,2}$/i;
export const ICD10_VETO_AFTER = /^\s{0,2}(?:mg|mcg|ml|mL|g|kg|lb|lbs|mm|cm|in|ft|%|GB|MB|GHz)\b/;

/**
 * Vetoes an SSN, phone or NPI match: a label right before it saying it is some other kind of
 * number (order, invoice, tracking, lot, part…).
 */
export const NUMBER_VETO_BEFORE =
  /\b(?:order|invoice|inv|tracking|track|confirmation|conf|reference|ref|lot|batch|part|item|sku|serial|model|version|ver|case|ticket|claim|account|acct|asset|tag|PO|ISBN|routing|transaction|txn|receipt|table|figure|section|step|page|room|flight|PIN|code)\.?\s{0,2}(?:(?:number|num|no|ID|#)\.?\s{0,2})?[:#]?\s{0,2}$/i;

const SUFFIX =
  "(?:Street|St|Avenue|Ave|Av|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|Way|Parkway|Pkwy|" +
  "Terrace|Ter|Circle|Cir|Highway|Hwy|Square|Sq|Trail|Trl|Plaza|Plz|Alley|Crescent|Loop|Pike|Turnpike|Expressway|Freeway)";
const UNIT =
  "(?:,?\\s{1,3}(?:Apt\\.?|Apartment|Suite|Ste\\.?|Unit|Rm\\.?|Room|Fl\\.?|Floor|#)\\s{0,2}#?[A-Z\\d][A-Z\\d-]{0,5}\\b)?";

/**
 * US street address: house number, optional direction, one to four capitalised (or ordinal)
 * words, a street suffix, optional unit. Or a number followed by Broadway.
 */
export const ADDRESS = new RegExp(
  "(?<![\\w#$.,/-])\\d{1,6}[A-Z]?\\s{1,3}" +
    "(?:(?:[NSEW]|N[EW]|S[EW]|North|South|East|West)\\.?\\s{1,3})?" +
    `(?:(?:(?:[A-Z][A-Za-z'-]{0,20}|\\d{1,3}(?:st|nd|rd|th))\\.?\\s{1,3}){1,4}?${SUFFIX}\\b\\.?|Broadway\\b)` +
    UNIT,
  "g",
);

/** A literal, for a `marked` value. */
export function literal(value: string): RegExp {
  return new RegExp(value.replace(/[\\^$.*+?()[\]{}|/-]/g, "\\$&"), "gi");
}
