/**
 * Nickname rules: what a person may type, and when two names are one.
 *
 * @module
 */
import { skeleton } from "./confusables.ts";

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

// What draws nothing or passes for a space, so "admin" plus one of them looks
// like "admin": default-ignorables (U+034F, variation selectors, the Hangul
// fillers U+115F, U+1160, U+3164, U+FFA0, tags), the blank braille pattern
// U+2800, unassigned code points (no confusable data, drawn as a box) and
// every space but U+0020.
const INVISIBLE = /[\p{Default_Ignorable_Code_Point}\u2800\p{Cn}]|(?! )\p{Zs}/u;

// A variation selector right after an emoji picks how it is drawn (❤️).
const EMOJI_VARIATION = /(\p{Emoji})[\uFE0E\uFE0F]/gu;

// A name of marks and spaces alone shows as nothing.
const VISIBLE = /[\p{L}\p{N}\p{P}\p{S}]/u;

const SHOWN_ESCAPED =
  /[\p{Default_Ignorable_Code_Point}\u2800\p{Cn}\p{Cf}\p{Co}]|(?! )\p{Zs}/gu;

/** `text` quoted, with what would not show written as \uXXXX. */
function quoted(text: string): string {
  return JSON.stringify(text).replace(SHOWN_ESCAPED, (ch) => {
    const hex = ch.codePointAt(0)!.toString(16).toUpperCase();
    return hex.length > 4 ? `\\u{${hex}}` : `\\u${hex.padStart(4, "0")}`;
  });
}

function badChars(nickname: string, why: string): NicknameResult {
  return {
    ok: false,
    problem: "bad_chars",
    message: `Invalid nickname ${quoted(nickname)}: ${why}`,
  };
}

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
    return badChars(
      nickname,
      "control, format and bidi characters are not allowed",
    );
  }
  if (INVISIBLE.test(nickname.replace(EMOJI_VARIATION, "$1"))) {
    return badChars(
      nickname,
      "invisible, blank and unassigned characters and spaces other than U+0020 are not allowed",
    );
  }
  if (!VISIBLE.test(nickname)) {
    return badChars(nickname, "it has no visible character");
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

/**
 * The identity of a nickname: names that differ only in case, width or
 * compatibility form (NFKC), in characters that draw nothing, in runs of
 * spaces, or by look-alike letters (the UTS #39 skeleton) are one name.
 */
export function nicknameKey(nickname: string): string {
  const folded = fold(nickname.normalize("NFKC"));
  // Folded again: a prototype may be a capital ("0" maps to "O").
  return fold(skeleton(folded)).replace(/\s+/gu, " ").trim();
}

// Upper then lower folds pairs such as "ß"/"SS" that toLowerCase alone misses.
function fold(text: string): string {
  return text.toUpperCase().toLowerCase();
}
