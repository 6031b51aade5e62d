// @ts-check
/**
 * What each frame from the server does to the page: the welcome (with
 * history, possibly after a reconnect), messages, presence, typing and
 * errors. Messages and changes are de-duplicated by id, so a resend after
 * a reconnect shows nothing twice; edits, deletions and reactions are
 * applied to the log's copy of their message (changes.js).
 *
 * @module
 */

import { applyChange, requote } from "./changes.js";

/**
 * @typedef {import("./message_log.js").ChatMessage} ChatMessage
 * @typedef {{
 *   s: import("./page.js").Translate,
 *   conn: ReturnType<typeof import("./connection.js").createConnection>,
 *   log: import("./message_log.js").MessageLog,
 *   outbox: ReturnType<typeof import("./outbox.js").createOutbox>,
 *   presence: ReturnType<typeof import("./presence.js").createPresence>,
 *   rooms: ReturnType<typeof import("./rooms_panel.js").createRoomsPanel>,
 *   roomState: import("./room_state.js").RoomState,
 *   arrived: (message: ChatMessage, initial: boolean) => void,
 *   isIgnored: (nickname: string) => boolean,
 *   onWelcomed: () => void,
 *   onModAnswer: (answer: Record<string, any>) => void,
 * }} Parts
 *   `arrived` hears of each new message (mentions, unread marks);
 *   an ignored person's messages do not count in the tab title;
 *   `onModAnswer` hears the answers to a moderator's `mod` frames: `mod_ok`,
 *   or an `error` naming the refused action
 */

/**
 * Whether a welcome means the room's ids started over, so the ids the page
 * has seen say nothing about the new ones: the server could not recover and
 * the stream is another (or the page never learnt which one it was in).
 * @param {string} known the epoch of the page's last welcome, "" if none
 * @param {{ recovered?: unknown, epoch?: unknown }} welcome
 * @returns {boolean}
 */
export function startsOver(known, welcome) {
  if (welcome.recovered !== false) return false;
  return known === "" || welcome.epoch !== known;
}

/**
 * Applies server frames to the parts of the page.
 * @param {Parts} parts
 */
export function createFrameHandler(
  {
    s,
    conn,
    log,
    outbox,
    presence,
    rooms,
    roomState,
    arrived,
    isIgnored,
    onWelcomed,
    onModAnswer,
  },
) {
  /** @type {Set<number>} */
  const seen = new Set();
  let lastId = 0;
  let epoch = "";

  /** Messages of the frame being applied that the reader has not seen */
  let unseen = 0;

  /**
   * Applies one frame, a batch of many events as one: the log shows them
   * together, and the title counts them once.
   * @param {unknown} frame
   */
  function handle(frame) {
    apply(frame);
    if (unseen > 0) log.countUnread(unseen);
    unseen = 0;
  }

  /** @param {unknown} frame */
  function apply(frame) {
    if (typeof frame !== "object" || frame === null) return;
    const event = /** @type {Record<string, any>} */ (frame);
    switch (event.type) {
      case "batch":
        if (Array.isArray(event.events)) {
          for (const inner of event.events) apply(inner);
        }
        break;
      case "welcome":
        onWelcome(event);
        break;
      case "message":
        onMessage(/** @type {ChatMessage} */ (event), false);
        break;
      case "edit":
      case "delete":
      case "reaction":
        onChange(event);
        break;
      case "join":
      case "leave":
        onPresence(event.type, event.nickname, event.ts);
        break;
      case "typing":
        presence.typing(event.nickname);
        break;
      case "room":
        roomState.apply(event);
        break;
      case "mod_ok":
        onModAnswer(event);
        break;
      case "error":
        // The refusal of a `mod` frame names its action: the moderation
        // controls that sent it explain it, not the message log's rules
        if (typeof event.action === "string") onModAnswer(event);
        else onError(String(event.code), event.retryAfter);
        break;
    }
  }

  /** @param {Record<string, any>} event */
  function onWelcome(event) {
    const recovering = conn.welcomed;
    conn.welcome();
    presence.reset(event.nickname, event.users);
    if (recovering && event.recovered === false) {
      log.notice(s("notice_missed"));
      if (startsOver(epoch, event)) {
        // New messages reuse old ids: forget them, or they would be dropped
        seen.clear();
        lastId = 0;
      }
    }
    epoch = typeof event.epoch === "string" ? event.epoch : "";
    if (Array.isArray(event.history)) {
      // A resume's history carries the changes after `since` as they were sent
      for (const item of event.history) {
        if (item?.type === "message") onMessage(item, !recovering);
        else onChange(item);
      }
    }
    outbox.flush();
    log.updateEmpty();
    if (!recovering) log.scrollToBottom();
    rooms.refresh();
    // After the history is in, so the log knows whether it can scroll
    if (!recovering) {
      requestAnimationFrame(() => requestAnimationFrame(onWelcomed));
    }
  }

  /**
   * @param {ChatMessage} message
   * @param {boolean} initial true for the history of the first welcome
   */
  function onMessage(message, initial) {
    if (typeof message?.id !== "number") return;
    if (
      typeof message.text !== "string" || typeof message.nickname !== "string"
    ) return;
    if (seen.has(message.id)) {
      // Already shown: a pending copy of it would be a duplicate
      outbox.dropCopy(message);
      return;
    }
    seen.add(message.id);
    lastId = Math.max(lastId, message.id);
    presence.stopTyping(message.nickname);

    // The log places, scrolls and shows the pill once per frame
    const mine = message.nickname === presence.me;
    arrived(message, initial);
    if (outbox.confirm(message)) return;
    log.add(message, { own: mine, initial });
    if (!initial && !mine && document.hidden && !isIgnored(message.nickname)) {
      unseen++;
    }
  }

  /**
   * An edit, deletion or reaction: applied to its message if the log has
   * it (older ones come from scrollback in their latest state).
   * @param {Record<string, any>} event
   */
  function onChange(event) {
    if (typeof event?.id !== "number" || typeof event.target !== "number") {
      return;
    }
    // Changes take ids too: resume after them, and apply each once
    if (seen.has(event.id)) return;
    seen.add(event.id);
    lastId = Math.max(lastId, event.id);
    const message = log.index.get(event.target);
    if (!message || !applyChange(message, /** @type {any} */ (event))) return;
    log.changed(message.id);
    if (event.type === "reaction") return;
    for (const reply of log.index.messages()) {
      if (requote(reply, message)) log.changed(reply.id);
    }
  }

  /**
   * @param {string} kind
   * @param {unknown} nickname
   * @param {unknown} ts
   */
  function onPresence(kind, nickname, ts) {
    if (typeof nickname !== "string") return;
    if (kind === "join") {
      if (!presence.join(nickname)) return;
      log.notice(s("event_join", { nickname }), "presence", ts);
    } else {
      if (!presence.leave(nickname)) return;
      log.notice(s("event_leave", { nickname }), "presence", ts);
    }
    rooms.scheduleRefresh();
  }

  /**
   * @param {string} code
   * @param {unknown} retryAfter
   */
  function onError(code, retryAfter) {
    const wait = typeof retryAfter === "number" && retryAfter > 0
      ? Math.ceil(retryAfter)
      : undefined;
    if (code === "rate_limited") {
      // One notice per slow-down, not one per refused message
      if (!outbox.throttled) {
        log.notice(
          wait
            ? s("error_rate_limited_wait", { seconds: wait })
            : s("error_rate_limited"),
          "error",
        );
      }
      outbox.slowDown(typeof retryAfter === "number" ? retryAfter : 2);
    } else if (code === "internal") {
      log.notice(s("error_internal"), "error");
      outbox.retry(3);
    } else if (code === "muted" || code === "room_locked") {
      const text = s(code === "muted" ? "error_muted" : "error_room_locked");
      log.notice(text, "error");
      outbox.refuseOldest(text);
    } else if (code === "slow_mode") {
      const wait = typeof retryAfter === "number" ? Math.ceil(retryAfter) : 0;
      log.notice(s("error_slow_mode", { seconds: wait }), "error");
      outbox.slowDown(wait || 2);
    } else if (
      code === "not_found" || code === "forbidden" ||
      code === "edit_window_closed" || code === "too_many_reactions"
    ) {
      // Refusals of a change, or of a reply whose original is gone
      const text = s(`error_${code}`);
      log.notice(text, "error");
      if (code === "not_found") outbox.refuseReply(text);
    } else if (
      code === "too_long" || code === "empty" || code === "bad_request"
    ) {
      const text = s(`error_${code}`);
      log.notice(text, "error");
      outbox.refuseOldest(text);
    } else {
      log.notice(s("error_unknown", { code: code.slice(0, 32) }), "error");
    }
  }

  return {
    /** Applies one parsed frame; anything unexpected is ignored. */
    handle,

    /** The highest message id seen, for `since` when reconnecting. */
    get lastId() {
      return lastId;
    },

    /** The epoch of the last welcome ("" before one, or in a room without messages), sent with `since`. */
    get epoch() {
      return epoch;
    },
  };
}
