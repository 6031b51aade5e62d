/**
 * Nickname rules: what a person may type, and when two names are one.
 *
 * @module
 */

/** Longest nickname, counted in code points so Chinese names are normal. */
export const MAX_NICKNAME_LENGTH = 24;

/** Why a nickname was refused; the login page turns it into a hint. */
export type NicknameProblem = "empty" | "too_long" | "bad_chars";

/** The outcome of {@linkcode validateNickname}. */
export type NicknameResult =
  | { ok: true; nickname: string }
  | { ok: false; problem: NicknameProblem; message: string };

// Control, format (includes bidi overrides and zero-width characters),
// line/paragraph separators, lone surrogates and private use.
const FORBIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Co}]/u;

/** Trims, NFC-normalises and checks a nickname typed by a person. */
export function validateNickname(raw: unknown): NicknameResult {
  if (typeof raw !== "string") {
    return {
      ok: false,
      problem: "empty",
      message: "Invalid nickname: it is missing",
    };
  }
  const nickname = raw.normalize("NFC").trim();
  const length = [...nickname].length;
  if (length === 0) {
    return {
      ok: false,
      problem: "empty",
      message: 'Invalid nickname "": it is empty',
    };
  }
  if (FORBIDDEN.test(nickname)) {
    return {
      ok: false,
      problem: "bad_chars",
      message: `Invalid nickname ${
        JSON.stringify(nickname)
      }: control, format and bidi characters are not allowed`,
    };
  }
  if (length > MAX_NICKNAME_LENGTH) {
    return {
      ok: false,
      problem: "too_long",
      message: `Invalid nickname ${
        JSON.stringify(nickname)
      }: it has ${length} characters, at most ${MAX_NICKNAME_LENGTH} are allowed`,
    };
  }
  return { ok: true, nickname };
}

/** The case-insensitive identity of a nickname: "Ann" and "ANN" are one. */
export function nicknameKey(nickname: string): string {
  // Upper then lower folds pairs such as "ß"/"SS" that toLowerCase alone misses.
  return nickname.normalize("NFC").toUpperCase().toLowerCase().normalize(
    "NFC",
  );
}
