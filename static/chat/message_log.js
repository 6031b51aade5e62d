// @ts-check
/**
 * The message log: messages and notices rendered with textContent only,
 * kept in server order with pending own messages last, stuck to the bottom
 * while the reader is there, with a "new messages" pill when they are not
 * and an unread count in the tab title while the tab is hidden.
 *
 * @module
 */
import { byId } from "./page.js";
import { formatTime, linkSegments, nickColourClass } from "./text.js";

/** Distance from the bottom, in pixels, that still counts as "at the bottom" */
const STICK_PX = 48;
/** Elements kept in the log; older ones go so long sessions stay fast */
const MAX_LOG_ITEMS = 600;

/**
 * @typedef {{ type: "message", id: number, nickname: string, text: string,
 *   ts: number, cid?: string }} ChatMessage
 * @typedef {ReturnType<typeof createMessageLog>} MessageLog
 */

/**
 * Takes over the #messages log, its empty hint and its pill.
 * @param {{ lang: string, s: import("./page.js").Translate,
 *   isWelcomed: () => boolean, onPill: () => void }} options
 */
export function createMessageLog({ lang, s, isWelcomed, onPill }) {
  const log = byId("messages");
  const empty = byId("messages-empty");
  const pill = byId("new-pill");
  const baseTitle = document.title;
  let unread = 0;

  function firstPending() {
    return log.querySelector(":scope > .pending");
  }

  /** Adds an element after the confirmed items and before pending ones */
  function addToLog(/** @type {HTMLElement} */ el) {
    log.insertBefore(el, firstPending());
    while (log.childElementCount > MAX_LOG_ITEMS) {
      log.firstElementChild?.remove();
    }
  }

  /** @param {number} ts */
  function renderTime(ts) {
    const time = document.createElement("time");
    time.className = "msg-time";
    const date = new Date(ts);
    time.dateTime = date.toISOString();
    time.textContent = formatTime(ts, lang);
    time.title = date.toLocaleString(lang);
    return time;
  }

  /**
   * @param {ChatMessage} message
   * @param {boolean} own
   * @param {boolean} pending
   */
  function renderMessage(message, own, pending) {
    const el = document.createElement("div");
    el.className = "msg";
    if (own) el.classList.add("own");
    if (pending) el.classList.add("pending");
    else el.dataset.id = String(message.id);

    const head = document.createElement("div");
    head.className = "msg-head";
    const nick = document.createElement("span");
    nick.className = `msg-nick ${own ? "" : nickColourClass(message.nickname)}`;
    // Isolated from what is around it, so a right-to-left name or a bidi
    // control in it cannot reorder the time or the text beside it
    nick.dir = "auto";
    nick.textContent = message.nickname;
    head.append(nick);
    if (pending) {
      const status = document.createElement("span");
      status.className = "msg-status";
      status.textContent = s("notice_sending");
      head.append(status);
    } else {
      head.append(renderTime(message.ts));
    }

    const body = document.createElement("p");
    body.className = "msg-text";
    body.dir = "auto";
    for (const segment of linkSegments(message.text)) {
      if (segment.href === undefined) {
        body.append(segment.text);
        continue;
      }
      const link = document.createElement("a");
      link.href = segment.href;
      // A URL reads left to right whatever override the text around it sets
      link.dir = "ltr";
      link.textContent = segment.text;
      link.target = "_blank";
      link.rel = "noopener noreferrer nofollow";
      body.append(link);
    }
    el.append(head, body);
    return el;
  }

  /** Whether the reader is at the bottom, so new messages should follow. */
  function isAtBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < STICK_PX;
  }

  /** Scrolls to the newest message; the pill has nothing left to show. */
  function scrollToBottom() {
    log.scrollTop = log.scrollHeight;
    pill.hidden = true;
  }

  function renderTitle() {
    document.title = unread > 0
      ? s("unread_title", { count: unread, title: baseTitle })
      : baseTitle;
  }

  log.addEventListener("scroll", () => {
    if (!pill.hidden && isAtBottom()) pill.hidden = true;
  });
  pill.addEventListener("click", () => {
    scrollToBottom();
    onPill();
  });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && unread > 0) {
      unread = 0;
      renderTitle();
    }
  });

  return {
    isAtBottom,
    scrollToBottom,

    /** Shows the pill that leads down to messages the reader has not seen. */
    showPill() {
      pill.hidden = false;
    },

    /** Shows the "no messages yet" hint once welcomed into an empty room. */
    updateEmpty() {
      empty.hidden = !isWelcomed() || log.querySelector(".msg") !== null;
    },

    /**
     * Adds a confirmed message from the server.
     * @param {ChatMessage} message
     * @param {boolean} own
     */
    add(message, own) {
      addToLog(renderMessage(message, own, false));
    },

    /**
     * Appends an own message the server has not confirmed yet, and returns it.
     * @param {ChatMessage} message
     */
    addPending(message) {
      const el = renderMessage(message, true, true);
      log.append(el);
      return el;
    },

    /**
     * Turns a pending message into a confirmed one, in its server place.
     * @param {HTMLElement} el
     * @param {ChatMessage} message
     */
    confirm(el, message) {
      el.classList.remove("pending");
      el.dataset.id = String(message.id);
      el.querySelector(".msg-status")?.remove();
      el.querySelector(".msg-head")?.append(renderTime(message.ts));
      // Keep the log in server order: confirmed messages sit above pending ones
      const next = firstPending();
      if (el.nextElementSibling !== next) log.insertBefore(el, next);
    },

    /**
     * Marks a pending message as not sent, saying why.
     * @param {HTMLElement} el
     * @param {string} statusText
     */
    fail(el, statusText) {
      el.classList.remove("pending");
      el.classList.add("failed");
      const status = el.querySelector(".msg-status");
      if (status) status.textContent = statusText;
    },

    /**
     * Adds a quiet line to the log: presence changes, errors, connection news.
     * @param {string} text
     * @param {"info" | "presence" | "error"} [kind]
     * @param {unknown} [ts]
     */
    notice(text, kind = "info", ts) {
      const stick = isAtBottom();
      const el = document.createElement("div");
      el.className = `notice notice-${kind}`;
      if (typeof ts === "number") {
        const time = renderTime(ts);
        time.className = "notice-time";
        el.append(time, " ");
      }
      el.append(text);
      addToLog(el);
      if (stick) scrollToBottom();
    },

    /** Counts a message that arrived while the tab was hidden, in the title. */
    countUnread() {
      unread++;
      renderTitle();
    },
  };
}
