// @ts-check
/**
 * The message log: messages and notices kept in server order with pending
 * own messages last, stuck to the bottom while the reader is there, with a
 * "new messages" pill when they are not; the tab title counts what came
 * while the tab was hidden (title_count.js).
 *
 * New entries are queued and go in together once per animation frame
 * (flush), built off the page in one fragment: the layout is read once
 * (is the reader at the bottom?) and written once (scrollTop) per frame
 * however many messages arrived, so a busy room costs a frame's work, not
 * a layout per message. Grouping (grouping.js) is decided there too, from
 * what was last put in, without reading the page.
 *
 * Messages are kept by id with their latest state, so an edit, deletion or
 * reaction renders its message again in the next flush, and scrollback
 * (prepend) puts older ones above, keeping the reader's place.
 *
 * @module
 */
import { createDays } from "./grouping.js";
import { createMessageIndex } from "./message_index.js";
import { createMessageView } from "./message_view.js";
import { byId } from "./page.js";
import { createTitleCount } from "./title_count.js";

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
 *   ts: number, cid?: string, replyTo?: number,
 *   reply?: { id: number, nickname: string, text: string },
 *   edited?: boolean, deleted?: boolean, deletedBy?: string,
 *   reactions?: Record<string, string[]> }} ChatMessage
 * @typedef {{ kind: "message", message: ChatMessage, own: boolean,
 *   initial: boolean }
 *   | { kind: "confirm", el: HTMLElement, message: ChatMessage }
 *   | { kind: "notice", el: HTMLElement, ts?: number }
 *   | { kind: "refresh", id: number }} Entry
 *   What waits for the next flush: a new message (`initial` for the
 *   history of the first welcome), an own pending message the server
 *   confirmed, a notice, or a message that changed
 * @typedef {ReturnType<typeof createMessageLog>} MessageLog
 */

/**
 * Takes over the #messages log, its empty hint and its pill.
 * @param {{ lang: string, s: import("./page.js").Translate,
 *   isWelcomed: () => boolean, onPill: () => void, me: () => string,
 *   names: () => readonly string[] }} options
 *   `names`: the nicknames a mention may name, longest first
 */
export function createMessageLog(
  { lang, s, isWelcomed, onPill, me, names },
) {
  const log = byId("messages");
  const empty = byId("messages-empty");
  const pill = byId("new-pill");
  const view = createMessageView({ lang, s, me, names });
  const days = createDays({ lang, s });
  days.keepLabels(log);
  /** Every message in the log (or queued for it), in its latest state */
  const byMessage = createMessageIndex();
  /** @type {WeakMap<Element, import("./grouping.js").Placed>} */
  const placed = new WeakMap();
  /** The last confirmed message put in, for grouping; undefined after a notice */
  /** @type {import("./grouping.js").Placed | undefined} */
  let tail;
  /** The day of the last separator put in at the bottom */
  let tailDay = 0;
  /** Messages above this id in the first history get a "new since you left" line */
  let newSince = 0;
  const titles = createTitleCount({ s });
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
   * Groups `el` (the message `message`) with what is before it, and
   * returns the separator to put before it when it starts a day.
   * @param {HTMLElement} el
   * @param {ChatMessage} message
   * @param {import("./grouping.js").Placed | undefined} prev
   * @param {number} prevDay
   */
  function place(el, message, prev, prevDay) {
    const day = days.day(message.ts);
    const info = { nickname: message.nickname, ts: message.ts, day };
    placed.set(el, info);
    el.classList.toggle("grouped", days.continues(prev, message));
    const separator = day === prevDay ? undefined : days.separator(message.ts);
    return { info, separator };
  }

  /**
   * Adds a message at the bottom of `fragment`, grouped with the tail.
   * @param {DocumentFragment} fragment
   * @param {HTMLElement} el
   * @param {ChatMessage} message
   */
  function appendMessage(fragment, el, message) {
    const { info, separator } = place(el, message, tail, tailDay);
    if (separator) fragment.append(separator);
    fragment.append(el);
    tail = info;
    tailDay = info.day;
    byMessage.set(message, el);
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
      if (entry.kind === "refresh") {
        const el = byMessage.element(entry.id);
        const message = byMessage.get(entry.id);
        if (el && message) view.refresh(el, message);
        return;
      }
      if (entry.kind === "confirm") {
        // One's own message goes to its server place, and into view
        view.confirmed(entry.el, entry.message);
        toBottom = true;
        if (i < skip) {
          entry.el.remove();
          byMessage.delete(entry.message.id);
        } else appendMessage(fragment, entry.el, entry.message);
        return;
      }
      if (entry.kind === "notice") {
        tail = undefined;
        if (i < skip) return;
        // A join on a new day starts that day too, not the next message.
        if (entry.ts !== undefined && days.day(entry.ts) !== tailDay) {
          tailDay = days.day(entry.ts);
          fragment.append(days.separator(entry.ts));
        }
        fragment.append(entry.el);
        return;
      }
      const { message, own, initial } = entry;
      if (!initial) {
        news = true;
        newSince = 0;
      }
      if (i < skip) {
        byMessage.delete(message.id);
        return;
      }
      if (newSince > 0 && message.id > newSince && !own) {
        newSince = 0;
        const divider = view.notice(s("unread_divider"), "marker");
        divider.classList.add("unread-divider");
        fragment.append(divider);
        tail = undefined;
      }
      appendMessage(fragment, view.message(message, { own }), message);
    });
    // Confirmed items sit above pending ones
    log.insertBefore(fragment, log.querySelector(":scope > .pending"));
    while (log.childElementCount > MAX_LOG_ITEMS) {
      const first = log.firstElementChild;
      if (first instanceof HTMLElement && first.dataset.id) {
        byMessage.delete(Number(first.dataset.id));
      }
      first?.remove();
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

  log.addEventListener("scroll", () => {
    if (!pill.hidden && isAtBottom()) pill.hidden = true;
  });
  log.addEventListener("pointerover", (event) => view.titleTime(event.target));
  log.addEventListener("focusin", (event) => view.titleTime(event.target));
  pill.addEventListener("click", () => {
    scrollToBottom();
    onPill();
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
      byMessage.set(message);
      enqueue({ kind: "message", message, own, initial });
    },

    /** The messages in the log by id (message_index.js). */
    index: byMessage,

    /**
     * Renders message `id` again, in its latest state, in the next flush.
     * @param {number} id
     */
    changed(id) {
      enqueue({ kind: "refresh", id });
    },

    /** Says who is a moderator and whom this page ignores (message_view.js). */
    setPeople: view.setPeople,

    /**
     * Shows an ignored person's message `id` in full, or collapses it
     * again, in the next flush.
     * @param {number} id
     * @param {boolean} shown
     */
    reveal(id, shown) {
      if (shown) view.reveal(id);
      else view.conceal(id);
      enqueue({ kind: "refresh", id });
    },

    /**
     * Marks where the first history's messages become new to the reader.
     * @param {number} id the last id read on an earlier visit
     */
    markNewSince(id) {
      newSince = id;
    },

    /**
     * Puts older messages (oldest first) above what is in the log, keeping
     * what the reader sees where it is; `start` adds the start-of-history
     * line above them.
     * @param {ChatMessage[]} messages
     * @param {{ start: boolean }} options
     */
    prepend(messages, { start }) {
      const fragment = document.createDocumentFragment();
      if (start) {
        const marker = view.notice(s("history_start"), "marker");
        marker.classList.add("history-start");
        fragment.append(marker);
      }
      /** @type {import("./grouping.js").Placed | undefined} */
      let prev;
      let prevDay = 0;
      for (const message of messages) {
        if (byMessage.has(message.id)) continue;
        const el = view.message(message, { own: message.nickname === me() });
        const { info, separator } = place(el, message, prev, prevDay);
        if (separator) fragment.append(separator);
        fragment.append(el);
        byMessage.set(message, el);
        prev = info;
        prevDay = info.day;
      }
      const before = log.scrollHeight;
      let first = log.firstElementChild;
      log.prepend(fragment);
      // The day already shown above, or the group running on, is not repeated
      if (
        first instanceof HTMLElement && first.classList.contains("day-sep") &&
        first.dataset.day === String(prevDay)
      ) {
        const next = first.nextElementSibling;
        first.remove();
        first = next;
      }
      const info = first ? placed.get(first) : undefined;
      if (first && info) {
        first.classList.toggle("grouped", days.continues(prev, info));
      }
      if (tailDay === 0) tailDay = prevDay;
      log.scrollTop += log.scrollHeight - before;
      updateEmpty();
    },

    /**
     * Appends an own message the server has not confirmed yet, and returns it.
     * @param {ChatMessage} message
     */
    addPending(message) {
      const el = view.message(message, { own: true, pending: true });
      el.classList.toggle("grouped", days.continues(tail, message));
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
      const at = typeof ts === "number" ? ts : undefined;
      enqueue({ kind: "notice", el: view.notice(text, kind, ts), ts: at });
    },

    /**
     * Adds a notice with a button (Undo) that runs `run` once.
     * @param {string} text
     * @param {{ label: string, run: () => void }} action
     */
    actionNotice(text, action) {
      enqueue({ kind: "notice", el: view.actionNotice(text, action) });
    },

    /** Counts messages that arrived while the tab was hidden, in the title (title_count.js). */
    countUnread: titles.countUnread,

    /** Counts a mention of me that arrived while the tab was hidden, in the title. */
    countMention: titles.countMention,
  };
}
