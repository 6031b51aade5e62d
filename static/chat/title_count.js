// @ts-check
/**
 * The tab title's counts while the tab is hidden: "(3) Lobby" for messages
 * that arrived, and a mark for mentions of me; both clear when the tab is
 * shown again.
 *
 * @module
 */

/**
 * Keeps the title's counts, starting from the page's own title.
 * @param {{ s: import("./page.js").Translate }} options
 */
export function createTitleCount({ s }) {
  const baseTitle = document.title;
  let unread = 0;
  let mentioned = 0;

  function render() {
    const title = unread > 0
      ? s("unread_title", { count: unread, title: baseTitle })
      : baseTitle;
    document.title = mentioned > 0
      ? s("mention_title", { count: mentioned, title })
      : title;
  }

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && (unread > 0 || mentioned > 0)) {
      unread = 0;
      mentioned = 0;
      render();
    }
  });

  return {
    /**
     * Counts messages that arrived while the tab was hidden.
     * @param {number} count
     */
    countUnread(count) {
      unread += count;
      render();
    },

    /** Counts a mention of me that arrived while the tab was hidden. */
    countMention() {
      mentioned++;
      render();
    },
  };
}
