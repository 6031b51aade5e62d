// @ts-check
/**
 * The last id read in each visited room, kept in localStorage, so the
 * rooms list can ask /api/rooms what is unread and a returning reader sees
 * where the new messages begin. At most MAX_ROOMS rooms are remembered,
 * the ones visited last.
 *
 * @module
 */

const KEY = "chat.read";
/** Rooms remembered; the server takes at most this many in `read` */
const MAX_ROOMS = 20;
/** The least time between two writes to localStorage */
const SAVE_MS = 1000;

/** @returns {Record<string, number>} */
function load() {
  try {
    const data = JSON.parse(localStorage.getItem(KEY) ?? "{}");
    /** @type {Record<string, number>} */
    const out = {};
    for (const [room, id] of Object.entries(data ?? {})) {
      if (
        /^[a-z0-9-]{1,32}$/.test(room) && Number.isSafeInteger(id) && id >= 0
      ) {
        out[room] = id;
      }
    }
    return out;
  } catch {
    return {};
  }
}

/**
 * @param {{ room: string }} options
 */
export function createUnread({ room }) {
  const read = load();
  /** The last id read here on an earlier visit (0: never visited) */
  const previous = read[room] ?? 0;
  let pending = false;

  function save() {
    pending = false;
    const fresh = load();
    fresh[room] = read[room] ?? 0;
    // The room read last goes last, and the oldest go past the cap
    const entries = Object.entries(fresh).filter(([r]) => r !== room);
    entries.push([room, fresh[room]]);
    try {
      localStorage.setItem(
        KEY,
        JSON.stringify(Object.fromEntries(entries.slice(-MAX_ROOMS))),
      );
    } catch {
      // Private mode or full storage: unread marks are only a nicety
    }
  }

  addEventListener("pagehide", () => {
    if (pending) save();
  });

  return {
    /** The last id read in this room before this visit, 0 if none. */
    previous,

    /**
     * Records that the reader has seen up to `id`, while the tab is shown.
     * @param {number} id
     */
    seen(id) {
      if (document.hidden || id <= (read[room] ?? 0)) return;
      read[room] = id;
      if (!pending) {
        pending = true;
        setTimeout(save, SAVE_MS);
      }
    },

    /** The `read` query for /api/rooms: `?read=lobby:12,dev:40`, or "". */
    query() {
      const fresh = { ...load(), [room]: read[room] ?? 0 };
      const list = Object.entries(fresh).slice(-MAX_ROOMS)
        .map(([r, id]) => `${r}:${id}`);
      return list.length > 0 ? `?read=${list.join(",")}` : "";
    },
  };
}
