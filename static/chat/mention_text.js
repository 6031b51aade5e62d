// @ts-check
/**
 * Finding `@nickname` mentions in message text, for names the page knows
 * (people present or recently seen), longest name first so "@ann lee" wins
 * over "@ann". Pure, so tests import it outside a browser.
 *
 * @module
 */

/** Letters, digits and _ after a name mean it is a longer word, not the name */
const WORD_CHAR = /[\p{L}\p{N}_]/u;

/**
 * Splits `text` into plain runs and mentions of `names`.
 * @param {string} text
 * @param {readonly string[]} names known nicknames, longest first
 * @returns {{ text: string, mention?: string }[]}
 */
export function mentionSegments(text, names) {
  if (!text.includes("@") || names.length === 0) return [{ text }];
  const lower = text.toLowerCase();
  /** @type {{ text: string, mention?: string }[]} */
  const out = [];
  let done = 0;
  for (let at = lower.indexOf("@"); at >= 0; at = lower.indexOf("@", at + 1)) {
    // An @ inside a word (an e-mail address) is not a mention
    if (at > 0 && WORD_CHAR.test(text[at - 1])) continue;
    const name = names.find((n) => {
      if (!lower.startsWith(n.toLowerCase(), at + 1)) return false;
      const next = text.slice(at + 1 + n.length).codePointAt(0);
      return next === undefined || !WORD_CHAR.test(String.fromCodePoint(next));
    });
    if (name === undefined) continue;
    if (at > done) out.push({ text: text.slice(done, at) });
    const end = at + 1 + name.length;
    out.push({ text: text.slice(at, end), mention: name });
    done = end;
    at = end - 1;
  }
  if (done < text.length) out.push({ text: text.slice(done) });
  return out;
}

/**
 * Whether `text` mentions `nickname`.
 * @param {string} text
 * @param {string} nickname
 * @returns {boolean}
 */
export function mentionsName(text, nickname) {
  return mentionSegments(text, [nickname]).some((s) => s.mention !== undefined);
}

/**
 * The `@word` being typed just before the caret, or null.
 * @param {string} value
 * @param {number} caret
 * @returns {{ start: number, query: string } | null}
 */
export function mentionQuery(value, caret) {
  const before = value.slice(0, caret);
  const match = /(?:^|\s)@([^\s@]{0,24})$/u.exec(before);
  if (!match) return null;
  return { start: caret - match[1].length - 1, query: match[1] };
}
