// @ts-check
/**
 * The room's rules as everyone sees them: the topic under the room name,
 * a line above the message box for slow mode, a lock or one's own mute,
 * and the box itself turned off (saying why) while this user cannot post.
 * It only mirrors the last `room` frame: the server refuses what the rules
 * forbid whatever the page shows.
 *
 * @module
 */
import { byId } from "./page.js";

/** setTimeout's longest delay; a mute ending later is looked at again then */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * How long `seconds` reads: "30 s", "5 min".
 * @param {import("./page.js").Translate} s
 * @param {number} seconds
 */
export function durationText(s, seconds) {
  return seconds < 60 || seconds % 60 !== 0
    ? s("duration_seconds", { seconds })
    : s("duration_minutes", { minutes: seconds / 60 });
}

/**
 * The clock time `ms` reads in `lang`, with the date when it is not today.
 * @param {string} lang
 * @param {number} ms
 * @param {number} now
 */
export function untilText(lang, ms, now) {
  const sameDay = new Date(ms).toDateString() === new Date(now).toDateString();
  /** @type {Intl.DateTimeFormatOptions} */
  const options = sameDay
    ? { timeStyle: "short" }
    : { dateStyle: "medium", timeStyle: "short" };
  return new Intl.DateTimeFormat(lang, options).format(ms);
}

/**
 * What the rules say to this user: the line's sentences and, when it may
 * not post, why (for the message box).
 * @param {import("./room_state.js").RoomRules} rules
 * @param {{ s: import("./page.js").Translate, lang: string, now: number }} options
 * @returns {{ lines: string[], blocked: string }}
 */
export function describeRules(rules, { s, lang, now }) {
  /** @type {string[]} */
  const lines = [];
  let blocked = "";
  const until = rules.mutedUntil;
  const muted = until === null || (typeof until === "number" && until > now);
  if (muted && !rules.moderator) {
    if (until === null) {
      lines.push(s("rules_muted"));
      blocked = s("composer_muted");
    } else {
      const time = untilText(lang, until, now);
      lines.push(s("rules_muted_until", { time }));
      blocked = s("composer_muted_until", { time });
    }
  }
  if (rules.locked) {
    lines.push(s("rules_locked"));
    if (!rules.moderator && !blocked) blocked = s("composer_locked");
  }
  if (rules.slowSeconds > 0) {
    lines.push(
      s("rules_slow", { duration: durationText(s, rules.slowSeconds) }),
    );
  }
  return { lines, blocked };
}

/**
 * Shows the room's rules and keeps the composer in step with them.
 * @param {{
 *   s: import("./page.js").Translate,
 *   lang: string,
 *   roomState: import("./room_state.js").RoomState,
 *   composer: { setBlocked: (reason: string) => void },
 * }} options
 */
export function createRoomRules({ s, lang, roomState, composer }) {
  const topic = byId("room-topic");
  const line = byId("room-rules");
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let muteTimer;

  /** @param {import("./room_state.js").RoomRules} rules */
  function show(rules) {
    topic.textContent = rules.topic;
    // A clamped topic can still be read whole on hover
    topic.title = rules.topic;
    topic.hidden = rules.topic === "";
    const now = Date.now();
    const { lines, blocked } = describeRules(rules, { s, lang, now });
    line.textContent = lines.join(" · ");
    line.hidden = lines.length === 0;
    line.classList.toggle("room-rules-blocked", blocked !== "");
    composer.setBlocked(blocked);
    clearTimeout(muteTimer);
    muteTimer = undefined;
    // The server sends no frame when a mute runs out: lift it on time here
    const until = rules.mutedUntil;
    if (typeof until === "number" && until > now && !rules.moderator) {
      const wait = Math.min(until - now + 250, MAX_TIMER_MS);
      muteTimer = setTimeout(() => show(roomState.rules), wait);
    }
  }

  roomState.listen(show);
}
