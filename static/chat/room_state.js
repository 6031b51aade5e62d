// @ts-check
/**
 * The room's rules as the server last said them in a `room` frame: topic,
 * slow mode, lock, who the moderators are, whether this page's session is
 * one, and until when it is muted. The parts that show them (topic line,
 * badges, moderator controls) listen for changes; the server checks every
 * action whatever this says.
 *
 * @module
 */

/**
 * @typedef {{
 *   topic: string,
 *   slowSeconds: number,
 *   locked: boolean,
 *   moderators: ReadonlySet<string>,
 *   moderator: boolean,
 *   mutedUntil: number | null | undefined,
 * }} RoomRules
 *   `mutedUntil`: undefined when not muted, null when muted until unmuted,
 *   else the time in ms
 */

/** @returns {RoomRules} */
function noRules() {
  return {
    topic: "",
    slowSeconds: 0,
    locked: false,
    moderators: new Set(),
    moderator: false,
    mutedUntil: undefined,
  };
}

/**
 * Reads a `room` frame into rules; fields of the wrong type read as unset.
 * @param {Record<string, unknown>} frame
 * @returns {RoomRules}
 */
export function readRoomFrame(frame) {
  const rules = noRules();
  if (typeof frame.topic === "string") rules.topic = frame.topic;
  if (typeof frame.slowSeconds === "number" && frame.slowSeconds > 0) {
    rules.slowSeconds = frame.slowSeconds;
  }
  rules.locked = frame.locked === true;
  if (Array.isArray(frame.moderators)) {
    rules.moderators = new Set(
      frame.moderators.filter((m) => typeof m === "string"),
    );
  }
  rules.moderator = frame.moderator === true;
  if (frame.mutedUntil === null) rules.mutedUntil = null;
  else if (typeof frame.mutedUntil === "number") {
    rules.mutedUntil = frame.mutedUntil;
  }
  return rules;
}

/** Holds the latest rules and tells listeners when a `room` frame changes them. */
export function createRoomState() {
  let rules = noRules();
  /** @type {Set<(rules: RoomRules) => void>} */
  const listeners = new Set();

  return {
    /** The rules now. */
    get rules() {
      return rules;
    },

    /**
     * Whether `nickname` is one of the configured moderators (for a badge).
     * @param {string} nickname
     */
    isModerator(nickname) {
      return rules.moderators.has(nickname);
    },

    /**
     * Takes a `room` frame from the server.
     * @param {Record<string, unknown>} frame
     */
    apply(frame) {
      rules = readRoomFrame(frame);
      for (const listener of listeners) listener(rules);
    },

    /**
     * Calls `listener` with the rules at each change, and once now.
     * @param {(rules: RoomRules) => void} listener
     * @returns {() => void} stops listening
     */
    listen(listener) {
      listeners.add(listener);
      listener(rules);
      return () => listeners.delete(listener);
    },
  };
}

/** What {@linkcode createRoomState} returns. */
/** @typedef {ReturnType<typeof createRoomState>} RoomState */
