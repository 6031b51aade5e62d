// @ts-check
/**
 * Mentions: the names a `@mention` may name (people present or seen
 * lately), the picker that offers online nicknames after `@` (an ARIA
 * combobox on the message box), the mention count in the title, and
 * opt-in desktop notifications for mentions while the tab is hidden.
 * The picker lists only people the user list shows already.
 *
 * @module
 */
import { mentionQuery, mentionsName } from "./mention_text.js";
import { byId } from "./page.js";

/** Authors remembered as mentionable besides those online */
const MAX_RECENT = 200;
/** Names the picker offers at once */
const MAX_OFFERED = 8;
const NOTIFY_KEY = "chat.notify";

/**
 * @param {{ s: import("./page.js").Translate, room: string,
 *   presence: ReturnType<typeof import("./presence.js").createPresence>,
 *   onMention: () => void }} options `onMention`: a mention of me arrived
 *   while the tab was hidden
 */
export function createMentions({ s, room, presence, onMention }) {
  const input = /** @type {HTMLTextAreaElement} */ (byId("message-input"));
  const list = byId("mention-list");
  /** @type {Set<string>} */
  const recent = new Set();
  /** @type {string[] | undefined} */
  let sorted;
  /** @type {string[]} */
  let offered = [];
  let active = 0;
  /** @type {{ start: number, query: string } | null} */
  let query = null;

  function names() {
    sorted ??= [...new Set([...presence.list(), ...recent])]
      .sort((a, b) => b.length - a.length);
    return sorted;
  }

  function close() {
    offered = [];
    query = null;
    list.hidden = true;
    list.replaceChildren();
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  function render() {
    list.replaceChildren(...offered.map((name, i) => {
      const li = document.createElement("li");
      li.id = `mention-option-${i}`;
      li.className = "mention-option";
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", String(i === active));
      li.dir = "auto";
      li.textContent = name;
      return li;
    }));
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
    input.setAttribute("aria-activedescendant", `mention-option-${active}`);
  }

  function update() {
    query = mentionQuery(input.value, input.selectionStart ?? 0);
    if (!query) return close();
    const q = query.query.toLowerCase();
    offered = presence.list()
      .filter((n) => n !== presence.me && n.toLowerCase().startsWith(q))
      .slice(0, MAX_OFFERED);
    if (offered.length === 0) return close();
    active = Math.min(active, offered.length - 1);
    render();
  }

  /** @param {number} index */
  function pick(index) {
    const name = offered[index];
    if (!query || name === undefined) return;
    const caret = input.selectionStart ?? input.value.length;
    const before = input.value.slice(0, query.start);
    const after = input.value.slice(caret);
    input.value = `${before}@${name} ${after}`;
    const at = before.length + name.length + 2;
    input.setSelectionRange(at, at);
    close();
    input.focus();
  }

  input.addEventListener("input", () => {
    active = 0;
    update();
  });
  input.addEventListener("blur", () => setTimeout(close, 150));
  list.addEventListener("pointerdown", (event) => {
    // Keeps focus in the box, so the pick lands at its caret
    event.preventDefault();
    const option = event.target instanceof Element &&
      event.target.closest(".mention-option");
    if (option) pick([...list.children].indexOf(option));
  });
  watchNotifyToggle(s);

  return {
    /** The names a mention may name, longest first. */
    names,

    /** Forgets the cached names: someone came or went. */
    peopleChanged() {
      sorted = undefined;
      if (!list.hidden) update();
    },

    /**
     * Handles the picker's keys on the message box; true when it took the key.
     * @param {KeyboardEvent} event
     * @returns {boolean}
     */
    key(event) {
      if (list.hidden || offered.length === 0) return false;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        const step = event.key === "ArrowDown" ? 1 : -1;
        active = (active + step + offered.length) % offered.length;
        render();
      } else if (event.key === "Enter" || event.key === "Tab") {
        pick(active);
      } else if (event.key === "Escape") close();
      else return false;
      event.preventDefault();
      return true;
    },

    /**
     * Hears of a new message: its author becomes mentionable, and a mention
     * of me in a hidden tab is counted and, if asked for, notified.
     * @param {import("./message_log.js").ChatMessage} message
     * @param {boolean} initial
     */
    arrived(message, initial) {
      if (!recent.has(message.nickname)) {
        if (recent.size >= MAX_RECENT) recent.clear();
        recent.add(message.nickname);
        sorted = undefined;
      }
      if (initial || message.nickname === presence.me || !document.hidden) {
        return;
      }
      if (!mentionsName(message.text, presence.me)) return;
      onMention();
      notify(s, { room, nickname: message.nickname, text: message.text });
    },
  };
}

/** Whether the person turned mention notifications on here, and may get them. */
function notifying() {
  return "Notification" in globalThis &&
    Notification.permission === "granted" &&
    localStorage.getItem(NOTIFY_KEY) === "on";
}

/**
 * @param {import("./page.js").Translate} s
 * @param {{ room: string, nickname: string, text: string }} mention
 */
function notify(s, { room, nickname, text }) {
  if (!notifying()) return;
  try {
    new Notification(s("notify_title", { nickname, room }), {
      body: [...text].slice(0, 140).join(""),
      tag: `chat-${room}`,
    });
  } catch {
    // Some browsers only notify from a service worker; the title still counts
  }
}

/**
 * The opt-in button: permission is asked only when it is pressed.
 * @param {import("./page.js").Translate} s
 */
function watchNotifyToggle(s) {
  const button = byId("notify-toggle");
  if (!("Notification" in globalThis)) return;
  button.hidden = false;
  const show = () => button.setAttribute("aria-pressed", String(notifying()));
  show();
  button.addEventListener("click", async () => {
    if (notifying()) {
      localStorage.setItem(NOTIFY_KEY, "off");
      return show();
    }
    const permission = Notification.permission === "default"
      ? await Notification.requestPermission()
      : Notification.permission;
    if (permission === "granted") localStorage.setItem(NOTIFY_KEY, "on");
    else button.title = s("notify_denied");
    show();
  });
}
