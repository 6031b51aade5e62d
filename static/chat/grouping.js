// @ts-check
/**
 * What makes messages share a header and where a day begins: consecutive
 * messages of one person within five minutes on one day are a group, and
 * each day starts with a separator ("Today", "Yesterday", then the date in
 * the page's language), relabelled at midnight.
 *
 * @module
 */

/** Messages of one person this close together share one header */
export const GROUP_MS = 5 * 60_000;

/**
 * @typedef {{ nickname: string, ts: number, day: number }} Placed
 *   What grouping needs of a message already in the log
 */

/**
 * Day keys and separators for one page language. The day bounds are
 * cached: a burst of messages shares its day, and Date objects per
 * message would cost more than the rest of grouping.
 * @param {{ lang: string, s: import("./page.js").Translate }} options
 */
export function createDays({ lang, s }) {
  const dated = new Intl.DateTimeFormat(lang, { dateStyle: "long" });
  let start = 0;
  let end = 0;
  let key = 0;

  /**
   * A number for the local day `ts` falls on: its midnight.
   * @param {number} ts
   * @returns {number}
   */
  function day(ts) {
    if (ts >= start && ts < end) return key;
    const d = new Date(ts);
    d.setHours(0, 0, 0, 0);
    start = key = d.getTime();
    d.setDate(d.getDate() + 1);
    end = d.getTime();
    return key;
  }

  /**
   * @param {number} ts
   * @param {number} [now]
   * @returns {string}
   */
  function label(ts, now = Date.now()) {
    const d = day(ts);
    const today = new Date(now);
    today.setHours(0, 0, 0, 0);
    if (d === today.getTime()) return s("day_today");
    today.setDate(today.getDate() - 1);
    if (d === today.getTime()) return s("day_yesterday");
    return dated.format(ts);
  }

  return {
    day,
    label,

    /**
     * Whether `next` continues the group `prev` ends.
     * @param {Placed | undefined} prev
     * @param {{ nickname: string, ts: number }} next
     */
    continues(prev, next) {
      return prev !== undefined && prev.nickname === next.nickname &&
        next.ts >= prev.ts && next.ts - prev.ts < GROUP_MS &&
        prev.day === day(next.ts);
    },

    /**
     * Relabels the separators under `root` just after each local midnight,
     * so a page left open overnight says "Yesterday" where it said "Today".
     * @param {ParentNode} root
     */
    keepLabels(root) {
      const schedule = () => {
        const next = new Date(Date.now());
        next.setHours(24, 0, 1, 0);
        setTimeout(() => {
          for (const el of root.querySelectorAll(".day-sep")) {
            const text = el.firstElementChild;
            const at = Number(/** @type {HTMLElement} */ (el).dataset.day);
            if (text && at > 0) text.textContent = label(at);
          }
          schedule();
        }, Math.max(1000, next.getTime() - Date.now()));
      };
      schedule();
    },

    /**
     * The separator that starts the day of `ts`.
     * @param {number} ts
     * @returns {HTMLElement}
     */
    separator(ts) {
      const el = document.createElement("div");
      el.className = "day-sep";
      el.dataset.day = String(day(ts));
      const text = document.createElement("span");
      text.textContent = label(ts);
      el.append(text);
      return el;
    },
  };
}
