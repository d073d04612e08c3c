/**
 * Number checks behind the PHI patterns (ADR 0010 §2): the NPI check digit, SSN
 * assignment rules and the NANP shape of a phone number. Pure functions over digit strings,
 * kept apart from the regular expressions so each rule is tested on its own.
 */

/** Luhn over `digits` (rightmost digit is the check digit). */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (d < 0 || d > 9) return false;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** A 10-digit NPI: starts with 1 or 2 and passes Luhn with the `80840` card-issuer prefix. */
export function npiValid(digits: string): boolean {
  return /^[12]\d{9}$/.test(digits) && luhnValid(`80840${digits}`);
}

/**
 * An SSN the SSA could have issued: area not 000, 666 or 9xx, group not 00, serial not 0000.
 * Numbers outside that (advertising and ITIN ranges) are found only next to an SSN label.
 */
export function ssnIssuable(area: string, group: string, serial: string): boolean {
  return area !== "000" && area !== "666" && area[0] !== "9" && group !== "00" && serial !== "0000";
}

/** Digits only. */
export function digitsOf(s: string): string {
  return s.replace(/\D/g, "");
}
