/**
 * HTML character references for `htmlText`: numeric ones (`&#45;`, `&#x2D;`) and the named
 * ones that occur in mail. Decoding matters because `078&#45;05&#45;1120` shows as an SSN.
 * An unknown name is left as written.
 */
const NAMED: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  nbsp: "\u00A0",
  ensp: " ",
  emsp: " ",
  thinsp: " ",
  ndash: "\u2013",
  mdash: "\u2014",
  minus: "\u2212",
  hyphen: "-",
  dash: "\u2010",
  lsquo: "\u2018",
  rsquo: "\u2019",
  ldquo: "\u201C",
  rdquo: "\u201D",
  sbquo: "\u201A",
  bdquo: "\u201E",
  hellip: "\u2026",
  bull: "\u2022",
  middot: "\u00B7",
  copy: "\u00A9",
  reg: "\u00AE",
  trade: "\u2122",
  deg: "\u00B0",
  plusmn: "\u00B1",
  times: "\u00D7",
  divide: "\u00F7",
  frac12: "\u00BD",
  frac14: "\u00BC",
  frac34: "\u00BE",
  cent: "\u00A2",
  pound: "\u00A3",
  euro: "\u20AC",
  yen: "\u00A5",
  sect: "\u00A7",
  para: "\u00B6",
  laquo: "\u00AB",
  raquo: "\u00BB",
  num: "#",
  sol: "/",
  colon: ":",
  comma: ",",
  period: ".",
  lpar: "(",
  rpar: ")",
  plus: "+",
  equals: "=",
  commat: "@",
  dollar: "$",
  percnt: "%",
  excl: "!",
  quest: "?",
  semi: ";",
  lowbar: "_",
  zwj: "\u200D",
  zwnj: "\u200C",
  shy: "\u00AD",
  iexcl: "\u00A1",
  iquest: "\u00BF",
  eacute: "\u00E9",
  egrave: "\u00E8",
  aacute: "\u00E1",
  agrave: "\u00E0",
  oacute: "\u00F3",
  uacute: "\u00FA",
  iacute: "\u00ED",
  ntilde: "\u00F1",
  ccedil: "\u00E7",
  uuml: "\u00FC",
  ouml: "\u00F6",
  auml: "\u00E4",
  szlig: "\u00DF",
};
/** Names browsers also accept without the `;`. */
const LEGACY = new Set(["amp", "lt", "gt", "quot", "nbsp", "copy", "reg"]);

const REFERENCE = /&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([A-Za-z][A-Za-z0-9]{1,31}))(;?)/g;

export function decodeEntities(text: string): string {
  if (!text.includes("&")) return text;
  return text.replace(REFERENCE, (whole, dec?: string, hex?: string, name?: string, semi?: string) => {
    if (dec !== undefined || hex !== undefined) {
      const code = dec !== undefined ? Number(dec) : Number.parseInt(hex ?? "", 16);
      if (code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return "\uFFFD";
      return String.fromCodePoint(code);
    }
    const value = NAMED[name ?? ""];
    if (value === undefined || (!semi && !LEGACY.has(name ?? ""))) return whole;
    return value;
  });
}
