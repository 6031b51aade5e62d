// @ts-check
/**
 * The side panel: the list of rooms from /api/rooms, the form that opens a
 * room by name, and the panel itself, which is a drawer on narrow screens.
 *
 * @module
 */
import { LOBBY } from "../shared/protocol.js";
import { roomPath, roomSlug } from "./addresses.js";
import { byId } from "./page.js";

/** The least time between two rooms-list fetches */
const ROOMS_MIN_GAP_MS = 3000;

/**
 * Fills the rooms list and keeps it fresh; wires the room form and drawer.
 * @param {{ app: HTMLElement, room: string,
 *   s: import("./page.js").Translate, usersHere: () => number,
 *   isReady: () => boolean, readQuery: () => string }} options
 *   `readQuery`: what was read where, for the unread counts
 */
export function createRoomsPanel(
  { app, room, s, usersHere, isReady, readQuery },
) {
  const roomList = byId("room-list");
  let roomsFetchedAt = 0;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let roomsTimer;
  let roomsBusy = false;
  /** The last answer of /api/rooms, redrawn when our own room changes */
  /** @type {unknown} */
  let lastRooms;

  async function refresh() {
    // Only while connected: a fetch to a server that is down is just noise
    if (roomsBusy || !isReady()) return;
    roomsBusy = true;
    roomsFetchedAt = Date.now();
    try {
      const response = await fetch(`/api/rooms${readQuery()}`, {
        headers: { accept: "application/json" },
        cache: "no-store",
      });
      if (!response.ok) throw new Error(`Rooms answered ${response.status}`);
      renderRooms(await response.json());
    } catch {
      if (roomList.querySelector("a") === null) {
        const li = document.createElement("li");
        li.className = "quiet";
        li.textContent = s("rooms_error");
        roomList.replaceChildren(li);
      }
    } finally {
      roomsBusy = false;
      roomList.removeAttribute("aria-busy");
    }
  }

  /** @param {unknown} data */
  function renderRooms(data) {
    lastRooms = data;
    /** @type {Map<string, number>} */
    const rooms = new Map();
    /** @type {Map<string, Record<string, unknown>>} */
    const unread = new Map();
    if (Array.isArray(data)) {
      for (const item of data) {
        const name = item?.name;
        if (typeof name !== "string" || roomSlug(name) !== name) continue;
        rooms.set(name, typeof item.users === "number" ? item.users : 0);
        unread.set(name, item);
      }
    }
    // The lobby and the room we are in are always listed
    if (!rooms.has(LOBBY)) rooms.set(LOBBY, 0);
    rooms.set(room, usersHere());
    const names = [...rooms.keys()].sort((a, b) =>
      a === LOBBY
        ? -1
        : b === LOBBY
        ? 1
        : (rooms.get(b) ?? 0) - (rooms.get(a) ?? 0) || a.localeCompare(b)
    );
    roomList.replaceChildren(...names.map((name) => {
      const li = document.createElement("li");
      const link = document.createElement("a");
      link.className = "room-link";
      link.href = roomPath(name);
      if (name === room) link.setAttribute("aria-current", "page");
      const label = document.createElement("span");
      label.className = "room-link-name";
      label.textContent = name === LOBBY ? s("room_lobby") : name;
      const count = document.createElement("span");
      count.className = "room-link-count";
      count.textContent = s("room_users", { count: rooms.get(name) ?? 0 });
      link.append(label, " ", count);
      if (name !== room) link.append(...badges(unread.get(name)));
      li.append(link);
      return li;
    }));
  }

  /**
   * The unread and mention badges of a room the reader visited before.
   * @param {Record<string, unknown> | undefined} item
   * @returns {HTMLElement[]}
   */
  function badges(item) {
    const out = [];
    const count = Number(item?.unread ?? 0);
    const mentions = Number(item?.mentions ?? 0);
    if (Number.isSafeInteger(count) && count > 0) {
      const badge = document.createElement("span");
      badge.className = "room-unread";
      badge.textContent = s(
        item?.capped === true ? "room_unread_capped" : "room_unread",
        { count },
      );
      out.push(badge);
    }
    if (Number.isSafeInteger(mentions) && mentions > 0) {
      const badge = document.createElement("span");
      badge.className = "room-mentions";
      badge.textContent = s("room_mentions", { count: mentions });
      out.push(badge);
    }
    return out;
  }

  // Refreshes by itself every 30 s while the tab is shown
  setInterval(() => {
    if (!document.hidden) refresh();
  }, 30_000);
  watchRoomForm(s);
  watchDrawer(app);

  return {
    /** Fetches the rooms list now, unless a fetch is running or we are offline. */
    refresh,

    /** Fetches the rooms list soon, at most once per few seconds. */
    scheduleRefresh() {
      if (roomsTimer) return;
      const wait = Math.max(0, roomsFetchedAt + ROOMS_MIN_GAP_MS - Date.now());
      roomsTimer = setTimeout(() => {
        roomsTimer = undefined;
        refresh();
      }, wait);
    },

    /** Redraws the last list: our own room's count is known here at once. */
    redraw() {
      if (lastRooms !== undefined) renderRooms(lastRooms);
    },
  };
}

/**
 * Opens the room typed into the form, or says why the name cannot be one.
 * @param {import("./page.js").Translate} s
 */
function watchRoomForm(s) {
  const roomForm = /** @type {HTMLFormElement} */ (byId("room-form"));
  const roomInput = /** @type {HTMLInputElement} */ (byId("room-input"));
  const roomError = byId("room-error");
  roomForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const slug = roomSlug(roomInput.value);
    if (slug === null) {
      roomError.textContent = s("room_form_invalid");
      roomError.hidden = false;
      roomInput.setAttribute("aria-invalid", "true");
      roomInput.focus();
      return;
    }
    location.assign(roomPath(slug));
  });
  roomInput.addEventListener("input", () => {
    if (roomError.hidden) return;
    roomError.hidden = true;
    roomInput.removeAttribute("aria-invalid");
  });
}

/**
 * Opens and closes the side panel, which covers the page on narrow screens.
 * @param {HTMLElement} app
 */
function watchDrawer(app) {
  const panelToggle = byId("panel-toggle");
  const panelClose = byId("panel-close");
  const scrim = byId("scrim");
  const chatMain = byId("chat-main");
  const header = /** @type {HTMLElement} */ (app.querySelector(".room-header"));
  const narrow = matchMedia("(max-width: 47.99rem)");

  /**
   * @param {boolean} open
   * @param {boolean} [moveFocus]
   */
  function setPanel(open, moveFocus = true) {
    app.classList.toggle("panel-open", open);
    panelToggle.setAttribute("aria-expanded", String(open));
    scrim.hidden = !open;
    // While the drawer covers the page only the drawer can be reached
    const cover = open && narrow.matches;
    chatMain.inert = cover;
    header.inert = cover;
    if (!moveFocus) return;
    if (open) panelClose.focus();
    else panelToggle.focus();
  }

  panelToggle.addEventListener("click", () => {
    setPanel(!app.classList.contains("panel-open"));
  });
  panelClose.addEventListener("click", () => setPanel(false));
  scrim.addEventListener("click", () => setPanel(false));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && app.classList.contains("panel-open")) {
      setPanel(false);
    }
  });
  narrow.addEventListener("change", () => setPanel(false, false));
}
