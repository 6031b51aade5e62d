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
    "typing",
    "batch",
    "error",
    "room",
    "mod_ok",
  ]),
);

/** The `type` of every frame a client may send. */
export const CLIENT_FRAMES = Object.freeze(
  /** @type {const} */ (["message", "typing", "mod"]),
);
