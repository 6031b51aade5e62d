// @ts-check
/**
 * What the browser and the server must agree on, written once: the lobby's
 * name, what a room name looks like, the close codes and the frame types.
 * The server imports this file (lib/chat/protocol.ts re-exports it) and the
 * page loads it as an ES module from /static/shared/protocol.js.
 *
 * @module
 */

/** The default room: `/chat` and `/ws` lead here. */
export const LOBBY = "lobby";

/** A valid room slug: lower-case letters, digits and dashes, 1 to 32 of them. */
export const ROOM_PATTERN = /^[a-z0-9-]{1,32}$/;

/** Longest room slug, as {@linkcode ROOM_PATTERN} says. */
export const MAX_ROOM_LENGTH = 32;

/**
 * Whether `name` is a valid room slug.
 * @param {string} name
 * @returns {boolean}
 */
export function isRoomName(name) {
  return ROOM_PATTERN.test(name);
}

/** Close codes the server uses; the page acts on each. */
export const CLOSE = Object.freeze(
  /** @type {const} */ ({
    NORMAL: 1000,
    GOING_AWAY: 1001,
    UNSUPPORTED: 1003,
    POLICY: 1008,
    TOO_BIG: 1009,
    INTERNAL: 1011,
    RESTART: 1012,
    TRY_AGAIN: 1013,
    SESSION_INVALID: 4401,
    NICK_TAKEN: 4409,
    // Moderation (docs/PROTOCOL.md): the page does not reconnect by itself.
    KICKED: 4403,
    BANNED: 4410,
  }),
);

/** The `type` of every frame the server sends. */
export const SERVER_FRAMES = Object.freeze(
  /** @type {const} */ ([
    "welcome",
    "message",
    "join",
    "leave",
    "edit",
    "delete",
    "reaction",
    "typing",
    "batch",
    "error",
    "room",
    "mod_ok",
  ]),
);

/** The `type` of every frame a client may send. */
export const CLIENT_FRAMES = Object.freeze(
  /** @type {const} */ ([
    "message",
    "edit",
    "delete",
    "react",
    "typing",
    "mod",
  ]),
);

/** The reactions a page offers first; any other single emoji is allowed too. */
export const REACTION_PALETTE = Object.freeze(
  /** @type {const} */ (["👍", "❤️", "😂", "🎉", "😮", "😢"]),
);

/** Distinct emoji one message may carry; a new one past this is refused. */
export const MAX_REACTIONS_PER_MESSAGE = 20;

/** Longest reaction in UTF-16 units: room for the longest ZWJ and tag sequences. */
export const MAX_EMOJI_LENGTH = 32;

// Each code point of a reaction must belong to emoji: pictographs, their
// modifiers and selectors, joiners, keycaps, flags and subdivision tags.
const EMOJI_PART =
  /^[\p{Emoji}\p{Emoji_Component}\u200d\ufe0f\u20e3\u{e0020}-\u{e007f}]+$/u;
const EMOJI_CORE =
  /[\p{Extended_Pictographic}\p{Emoji_Presentation}\p{Regional_Indicator}\u20e3]/u;
/** @type {Intl.Segmenter | undefined} */
let graphemes;

/**
 * Whether `text` is exactly one emoji: a single grapheme made of emoji
 * parts, with a pictograph, a flag or a keycap in it (so "a", "1", "👍👍"
 * and "👍 " are not).
 * @param {string} text
 * @returns {boolean}
 */
export function isReactionEmoji(text) {
  if (text.length === 0 || text.length > MAX_EMOJI_LENGTH) return false;
  if (!EMOJI_PART.test(text) || !EMOJI_CORE.test(text)) return false;
  graphemes ??= new Intl.Segmenter("en", { granularity: "grapheme" });
  let count = 0;
  for (const _ of graphemes.segment(text)) {
    if (++count > 1) return false;
  }
  return count === 1;
}
