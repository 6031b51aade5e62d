// @ts-check
/**
 * Older messages from /api/rooms/:room/messages, a page at a time: when
 * the reader reaches the top of the log, when the first history does not
 * fill it, and when a reply's original is not loaded. Stops at the start
 * of stored history, which the log marks.
 *
 * @module
 */
import { byId } from "./page.js";

/** Messages asked for per page */
const PAGE = 50;
/** Pages loaded at most to find one original */
const MAX_JUMP_PAGES = 20;
/** Distance from the top, in pixels, that loads the next page */
const TOP_PX = 120;

/**
 * @param {{ room: string, s: import("./page.js").Translate,
 *   log: import("./message_log.js").MessageLog, epoch: () => string }} options
 */
export function createScrollback({ room, s, log, epoch }) {
  const logEl = byId("messages");
  let loading = false;
  let done = false;

  /**
   * Loads one older page; false when there is nothing more, or it failed.
   * @returns {Promise<boolean>}
   */
  async function loadOlder() {
    if (loading || done) return false;
    loading = true;
    logEl.setAttribute("aria-busy", "true");
    try {
      const oldest = log.index.oldestId();
      const query = oldest > 0
        ? `before=${oldest}&limit=${PAGE}`
        : `limit=${PAGE}`;
      const response = await fetch(
        `/api/rooms/${encodeURIComponent(room)}/messages?${query}`,
        { headers: { accept: "application/json" }, cache: "no-store" },
      );
      if (!response.ok) {
        throw new Error(`Scrollback answered ${response.status}`);
      }
      const page = await response.json();
      // Another stream's ids say nothing about this one's
      if (epoch() !== "" && page.epoch !== epoch()) return false;
      const messages = Array.isArray(page.messages)
        ? page.messages.filter(isMessage)
        : [];
      done = page.start === true;
      log.prepend(messages, { start: done });
      return !done;
    } catch {
      log.notice(s("history_error"), "error");
      done = true;
      return false;
    } finally {
      loading = false;
      logEl.removeAttribute("aria-busy");
    }
  }

  logEl.addEventListener("scroll", () => {
    if (logEl.scrollTop < TOP_PX) loadOlder();
  }, { passive: true });

  return {
    loadOlder,

    /** Loads pages until the log can scroll, after the first history. */
    async fill() {
      for (let i = 0; i < 3; i++) {
        if (logEl.scrollHeight > logEl.clientHeight + TOP_PX) return;
        if (!await loadOlder()) return;
      }
    },

    /**
     * Scrolls to message `id`, loading older pages until it is there.
     * @param {number} id
     */
    async jump(id) {
      for (let i = 0; i < MAX_JUMP_PAGES && !log.index.element(id); i++) {
        if (log.index.oldestId() > 0 && log.index.oldestId() < id) break;
        if (!await loadOlder() && !log.index.element(id)) break;
      }
      const el = log.index.element(id);
      if (!el || !el.isConnected) {
        log.notice(s("jump_missing"), "error");
        return;
      }
      el.scrollIntoView({ block: "center" });
      el.tabIndex = -1;
      el.focus({ preventScroll: true });
      el.classList.remove("flash");
      // Restarts the highlight if it is still running
      void el.offsetWidth;
      el.classList.add("flash");
    },
  };
}

/**
 * @param {unknown} m
 * @returns {m is import("./message_log.js").ChatMessage}
 */
function isMessage(m) {
  const r = /** @type {Record<string, unknown>} */ (m);
  return typeof m === "object" && m !== null && r.type === "message" &&
    typeof r.id === "number" && typeof r.nickname === "string" &&
    typeof r.text === "string" && typeof r.ts === "number";
}
