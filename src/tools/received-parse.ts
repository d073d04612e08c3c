/**
 * Reading `Received:` lines out of an untrusted message: the header block is cut at
 * MAX_HEADER_CHARS, at most MAX_RECEIVED lines are read, each at most MAX_RECEIVED_CHARS
 * long, and everything here is a single forward scan (no regex that can backtrack
 * over the input), so a hostile message costs linear time and never throws.
 */

/** The header block is read up to this many characters (about 1 MB). */
export const MAX_HEADER_CHARS = 1_048_576;
/** At most this many Received lines are read: the newest ones, nearest the reader. */
export const MAX_RECEIVED = 100;
/** One unfolded Received line is read up to this many characters. */
export const MAX_RECEIVED_CHARS = 8192;

export interface ReceivedLines {
  /** Unfolded values (without the `Received:` name), newest first as in the message. */
  values: string[];
  /** True when a limit cut something off. */
  truncated: boolean;
}

/** Finds the Received lines of a raw message or of a bare header block. */
export function receivedLines(raw: string | Buffer): ReceivedLines {
  const limit = MAX_HEADER_CHARS + 4;
  let text = typeof raw === "string" ? raw.slice(0, limit) : raw.subarray(0, limit).toString("utf8");
  const whole = raw.length <= limit;
  text = text.replace(/^\uFEFF/, "").replace(/^(?:[ \t]*\r?\n)+/, "");
  let truncated = false;
  const end = text.search(/\n\r?\n/);
  if (end >= 0) text = text.slice(0, end);
  else if (!whole || text.length > MAX_HEADER_CHARS) {
    text = text.slice(0, MAX_HEADER_CHARS);
    truncated = true;
  }

  const values: string[] = [];
  let current: string[] | null = null;
  let currentLength = 0;
  const finish = () => {
    if (current !== null) values.push(current.join(" "));
    current = null;
  };
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? "").replace(/\r$/, "");
    // An mbox "From " separator line before the headers is not a header.
    if (i === 0 && line.startsWith("From ")) continue;
    if (line.startsWith(" ") || line.startsWith("\t")) {
      if (current === null) continue;
      if (currentLength + line.length > MAX_RECEIVED_CHARS) {
        truncated = true;
        continue;
      }
      current.push(line);
      currentLength += line.length + 1;
      continue;
    }
    finish();
    if (!/^received:/i.test(line)) continue;
    if (values.length >= MAX_RECEIVED) {
      truncated = true;
      break;
    }
    let first = line.slice("received:".length);
    if (first.length > MAX_RECEIVED_CHARS) {
      first = first.slice(0, MAX_RECEIVED_CHARS);
      truncated = true;
    }
    current = [first];
    currentLength = first.length;
  }
  finish();
  return { values, truncated };
}

export type Token =
  | { readonly kind: "word"; readonly text: string }
  | { readonly kind: "comment"; readonly text: string }
  | { readonly kind: "semi" };

const SPACE = new Set([" ", "\t", "\r", "\n"]);

/**
 * Splits a Received value into words, comments (nested parentheses kept inside, outer
 * ones removed, whitespace collapsed) and `;` separators. A comment left open runs to
 * the end. Linear in the length of the value.
 */
export function tokenize(value: string): Token[] {
  const tokens: Token[] = [];
  let word = "";
  const flushWord = () => {
    if (word !== "") tokens.push({ kind: "word", text: word });
    word = "";
  };
  let i = 0;
  while (i < value.length) {
    const c = value.charAt(i);
    if (SPACE.has(c)) {
      flushWord();
      i++;
    } else if (c === ";") {
      flushWord();
      tokens.push({ kind: "semi" });
      i++;
    } else if (c === "(") {
      flushWord();
      let depth = 1;
      let text = "";
      i++;
      while (i < value.length && depth > 0) {
        const d = value.charAt(i);
        if (d === "\\" && i + 1 < value.length) {
          text += value.charAt(i + 1);
          i += 2;
          continue;
        }
        if (d === "(") depth++;
        else if (d === ")") depth--;
        if (depth > 0) text += SPACE.has(d) ? " " : d;
        i++;
      }
      tokens.push({ kind: "comment", text: text.replace(/ {2,}/g, " ").trim() });
    } else if (c === '"') {
      let j = i + 1;
      while (j < value.length && value.charAt(j) !== '"') j += value.charAt(j) === "\\" ? 2 : 1;
      word += value.slice(i, j + 1);
      i = j + 1;
    } else {
      word += c;
      i++;
    }
  }
  flushWord();
  return tokens;
}

export type ClauseName = "from" | "by" | "via" | "with" | "id" | "for";
const CLAUSES = new Set<string>(["from", "by", "via", "with", "id", "for"]);

export interface Clause {
  /** The first word after the keyword, or null. */
  readonly value: string | null;
  /** Further words before the next keyword. */
  readonly words: readonly string[];
  /** The value and the words after it up to the first comment (`Microsoft SMTP Server`). */
  readonly head: readonly string[];
  readonly comments: readonly string[];
}

export interface ParsedReceived {
  readonly clauses: ReadonlyMap<ClauseName, Clause>;
  /** Comments before the first keyword, such as sendmail's `(from user@localhost)`. */
  readonly leading: readonly string[];
  /** The date-time after the last `;`, comments left out; null when there is none. */
  readonly date: string | null;
  /** Everything before the date, words and `(comments)` joined by one space. */
  readonly flat: string;
}

/** Parses one unfolded Received value into its clauses (RFC 5321 section 4.4). */
export function parseReceived(value: string): ParsedReceived {
  const tokens = tokenize(value);
  let lastSemi = -1;
  for (let i = 0; i < tokens.length; i++) if (tokens[i]?.kind === "semi") lastSemi = i;
  const body = lastSemi < 0 ? tokens : tokens.slice(0, lastSemi);
  const dateWords =
    lastSemi < 0
      ? []
      : tokens
          .slice(lastSemi + 1)
          .flatMap((t) => (t.kind === "word" ? [t.text] : []))
          .slice(0, 12);

  type OpenClause = { value: string | null; words: string[]; head: string[]; comments: string[] };
  const clauses = new Map<ClauseName, OpenClause>();
  const leading: string[] = [];
  let open: OpenClause | null = null;
  const flat: string[] = [];
  for (const t of body) {
    if (t.kind === "semi") {
      flat.push(";");
      continue;
    }
    if (t.kind === "comment") {
      flat.push(`(${t.text})`);
      if (open === null) leading.push(t.text);
      else open.comments.push(t.text);
      continue;
    }
    flat.push(t.text);
    const keyword = t.text.toLowerCase();
    if (CLAUSES.has(keyword) && !clauses.has(keyword as ClauseName)) {
      open = { value: null, words: [], head: [], comments: [] };
      clauses.set(keyword as ClauseName, open);
    } else if (open !== null) {
      if (open.value === null && open.words.length === 0 && open.comments.length === 0) open.value = t.text;
      else open.words.push(t.text);
      if (open.comments.length === 0) open.head.push(t.text);
    }
  }
  return {
    clauses,
    leading,
    date: dateWords.length === 0 ? null : dateWords.join(" "),
    flat: flat.join(" "),
  };
}
