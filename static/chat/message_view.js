// @ts-check
/**
 * The one place where log entries become elements: messages (pending,
 * confirmed, or turned from one into the other), notices and their times.
 * User text goes in with textContent only, never as markup. Nothing here
 * reads layout or inserts into the page: message_log.js does that.
 *
 * @module
 */
import { createClock, linkSegments, nickColourClass } from "./text.js";

/**
 * @typedef {import("./message_log.js").ChatMessage} ChatMessage
 * @typedef {ReturnType<typeof createMessageView>} MessageView
 */

/**
 * Builds log elements for one page language.
 * @param {{ lang: string, s: import("./page.js").Translate }} options
 */
export function createMessageView({ lang, s }) {
  const clock = createClock(lang);

  /**
   * @param {number} ts
   * @param {string} className
   */
  function renderTime(ts, className) {
    const time = document.createElement("time");
    time.className = className;
    time.dateTime = new Date(ts).toISOString();
    time.textContent = clock.short(ts);
    // The tooltip's full date is filled in on hover (see titleTime)
    return time;
  }

  /**
   * @param {HTMLElement} body
   * @param {string} text
   */
  function fillText(body, text) {
    for (const segment of linkSegments(text)) {
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
  }

  return {
    /**
     * A message, confirmed by the server or (`pending`) only typed so far.
     * @param {ChatMessage} message
     * @param {{ own: boolean, pending?: boolean }} options
     * @returns {HTMLElement}
     */
    message(message, { own, pending = false }) {
      const el = document.createElement("div");
      el.className = own ? "msg own" : "msg";
      if (pending) el.classList.add("pending");
      else el.dataset.id = String(message.id);

      const head = document.createElement("div");
      head.className = "msg-head";
      const nick = document.createElement("span");
      nick.className = own
        ? "msg-nick"
        : `msg-nick ${nickColourClass(message.nickname)}`;
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
        head.append(renderTime(message.ts, "msg-time"));
      }

      const body = document.createElement("p");
      body.className = "msg-text";
      body.dir = "auto";
      fillText(body, message.text);
      el.append(head, body);
      return el;
    },

    /**
     * Turns a pending message's element into the confirmed `message`.
     * @param {HTMLElement} el
     * @param {ChatMessage} message
     */
    confirmed(el, message) {
      el.classList.remove("pending");
      el.dataset.id = String(message.id);
      el.querySelector(".msg-status")?.remove();
      el.querySelector(".msg-head")?.append(
        renderTime(message.ts, "msg-time"),
      );
    },

    /**
     * A quiet line: presence changes, errors, connection news.
     * @param {string} text
     * @param {"info" | "presence" | "error"} kind
     * @param {unknown} [ts]
     * @returns {HTMLElement}
     */
    notice(text, kind, ts) {
      const el = document.createElement("div");
      el.className = `notice notice-${kind}`;
      if (typeof ts === "number") {
        el.append(renderTime(ts, "notice-time"), " ");
      }
      el.append(text);
      return el;
    },

    /**
     * Gives a time element its full date as a tooltip, the first time it
     * is pointed at: formatting it for every message would cost more than
     * all the rest of the message.
     * @param {EventTarget | null} target
     */
    titleTime(target) {
      if (!(target instanceof Element)) return;
      const time = target.closest("time");
      if (!time || time.title) return;
      const ts = Date.parse(time.dateTime);
      if (Number.isFinite(ts)) time.title = clock.full(ts);
    },
  };
}
