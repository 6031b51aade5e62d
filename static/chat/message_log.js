// @ts-check
/**
 * The message log: messages and notices kept in server order with pending
 * own messages last, stuck to the bottom while the reader is there, with a
 * "new messages" pill when they are not and an unread count in the tab
 * title while the tab is hidden.
 *
 * New entries are queued and go in together once per animation frame
 * (flush), built off the page in one fragment: the layout is read once
 * (is the reader at the bottom?) and written once (scrollTop) per frame
 * however many messages arrived, so a busy room costs a frame's work, not
 * a layout per message.
 *
 * @module
 */
import { createMessageView } from "./message_view.js";
import { byId } from "./page.js";

/** Distance from the bottom, in pixels, that still counts as "at the bottom" */
const STICK_PX = 48;
/** Elements kept in the log; older ones go so long sessions stay fast */
const MAX_LOG_ITEMS = 600;
/**
 * Queued entries that make a hidden tab flush at once: it runs no
 * animation frames and few timers, and its queue must not grow unbounded.
 * A shown tab waits for its frame, however much is queued: a flush puts
 * in no more than the log keeps
 */
const MAX_QUEUED = MAX_LOG_ITEMS * 2;
/** A flush happens this soon even without an animation frame (hidden tab) */
const FLUSH_TIMEOUT_MS = 250;

/**
 * @typedef {{ type: "message", id: number, nickname: string, text: string,
 *   ts: number, cid?: string }} ChatMessage
 * @typedef {{ kind: "message", message: ChatMessage, own: boolean,
 *   initial: boolean }
 *   | { kind: "confirm", el: HTMLElement, message: ChatMessage }
 *   | { kind: "notice", el: HTMLElement }} Entry
 *   What waits for the next flush: a new message (`initial` for the
 *   history of the first welcome), an own pending message the server
 *   confirmed, or a notice
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
  const view = createMessageView({ lang, s });
  const baseTitle = document.title;
  let unread = 0;
  /** @type {Entry[]} */
  let queue = [];
  let queuedMessages = 0;
  /** Set when the next flush must end at the bottom, wherever the reader is */
  let follow = false;
  let frame = 0;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;

  /** Whether the reader is at the bottom, so new messages should follow. */
  function isAtBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < STICK_PX;
  }

  /** @param {Entry} entry */
  function enqueue(entry) {
    queue.push(entry);
    if (entry.kind === "message") queuedMessages++;
    if (queue.length >= MAX_QUEUED && document.hidden) flush();
    else if (frame === 0) {
      frame = requestAnimationFrame(flush);
      timer = setTimeout(flush, FLUSH_TIMEOUT_MS);
    }
  }

  /**
   * Puts what is queued into the log: the one place that touches layout
   * for new entries.
   */
  function flush() {
    cancelAnimationFrame(frame);
    clearTimeout(timer);
    frame = 0;
    const entries = queue;
    queue = [];
    queuedMessages = 0;
    if (entries.length === 0) return;
    // Read before anything is written, so it costs no extra layout
    const stick = follow || isAtBottom();
    follow = false;
    let toBottom = stick;
    let news = false;
    // Entries this far back would be trimmed as soon as they were in
    const skip = entries.length - MAX_LOG_ITEMS;
    const fragment = document.createDocumentFragment();
    entries.forEach((entry, i) => {
      if (entry.kind === "confirm") {
        // One's own message goes to its server place, and into view
        view.confirmed(entry.el, entry.message);
        toBottom = true;
        if (i < skip) entry.el.remove();
        else fragment.append(entry.el);
        return;
      }
      if (entry.kind === "message" && !entry.initial) news = true;
      if (i < skip) return;
      fragment.append(
        entry.kind === "message"
          ? view.message(entry.message, { own: entry.own })
          : entry.el,
      );
    });
    // Confirmed items sit above pending ones
    log.insertBefore(fragment, log.querySelector(":scope > .pending"));
    while (log.childElementCount > MAX_LOG_ITEMS) {
      log.firstElementChild?.remove();
    }
    if (toBottom) scrollToBottom();
    else if (news) pill.hidden = false;
    updateEmpty();
  }

  /**
   * Scrolls to the newest message now, and after what is queued goes in;
   * the pill has nothing left to show.
   */
  function scrollToBottom() {
    log.scrollTop = log.scrollHeight;
    pill.hidden = true;
    if (queue.length > 0) follow = true;
  }

  /** Shows the "no messages yet" hint once welcomed into an empty room. */
  function updateEmpty() {
    empty.hidden = !isWelcomed() || queuedMessages > 0 ||
      log.querySelector(".msg") !== null;
  }

  function renderTitle() {
    document.title = unread > 0
      ? s("unread_title", { count: unread, title: baseTitle })
      : baseTitle;
  }

  log.addEventListener("scroll", () => {
    if (!pill.hidden && isAtBottom()) pill.hidden = true;
  });
  log.addEventListener("pointerover", (event) => view.titleTime(event.target));
  log.addEventListener("focusin", (event) => view.titleTime(event.target));
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
    scrollToBottom,
    updateEmpty,

    /**
     * Queues a confirmed message from the server.
     * @param {ChatMessage} message
     * @param {{ own: boolean, initial: boolean }} options `initial` for
     *   the history of the first welcome, which shows no pill
     */
    add(message, { own, initial }) {
      enqueue({ kind: "message", message, own, initial });
    },

    /**
     * Appends an own message the server has not confirmed yet, and returns it.
     * @param {ChatMessage} message
     */
    addPending(message) {
      const el = view.message(message, { own: true, pending: true });
      log.append(el);
      return el;
    },

    /**
     * Turns a pending message into a confirmed one, in its server place.
     * @param {HTMLElement} el
     * @param {ChatMessage} message
     */
    confirm(el, message) {
      enqueue({ kind: "confirm", el, message });
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
      enqueue({ kind: "notice", el: view.notice(text, kind, ts) });
    },

    /**
     * Counts messages that arrived while the tab was hidden, in the title.
     * @param {number} count
     */
    countUnread(count) {
      unread += count;
      renderTitle();
    },
  };
}
