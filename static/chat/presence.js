// @ts-check
/**
 * Who is in the room and who is typing: the user list, the online count
 * and the "x is typing" line. Moderators get a badge; everyone else but
 * me is a button that opens their menu (user_menu.js); people this page
 * ignores are left out of the typing line.
 *
 * @module
 */
import { byId } from "./page.js";
import { modBadge } from "./message_view.js";
import { nickColourClass } from "./text.js";

/** How long "x is typing" stays up without a new typing event */
const TYPING_SHOW_MS = 3000;

/**
 * Keeps the people in the room, starting as `me` alone.
 * @param {{ lang: string, s: import("./page.js").Translate, me: string,
 *   onChange: () => void }} options `onChange` runs after each redraw
 */
export function createPresence({ lang, s, me, onChange }) {
  const userList = byId("user-list");
  const onlineCount = byId("online-count");
  const typingLine = byId("typing");
  /** @type {Set<string>} */
  let users = new Set();
  /** @type {Map<string, ReturnType<typeof setTimeout>>} */
  const typers = new Map();
  /** @type {import("./message_view.js").People & { onRender: () => void }} */
  let people = {
    isModerator: () => false,
    isIgnored: () => false,
    onRender: () => {},
  };

  /** @param {string} nickname */
  function renderName(nickname) {
    const name = document.createElement("span");
    name.className = nickname === me
      ? "user-name"
      : `user-name ${nickColourClass(nickname)}`;
    // Isolated, so a right-to-left name cannot reorder "(you)" beside it
    name.dir = "auto";
    name.textContent = nickname;
    // Nobody can act on a moderator or on themselves: no menu to open
    if (nickname === me || people.isModerator(nickname)) return name;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "user-button";
    button.setAttribute("aria-haspopup", "menu");
    button.setAttribute("aria-expanded", "false");
    button.append(name);
    return button;
  }

  function renderUsers() {
    const sorted = [...users].sort((a, b) => a.localeCompare(b, lang));
    const items = sorted.map((nickname) => {
      const li = document.createElement("li");
      li.className = "user";
      li.dataset.nickname = nickname;
      li.append(renderName(nickname));
      if (people.isModerator(nickname)) li.append(" ", modBadge(s));
      if (nickname === me) {
        li.classList.add("me");
        li.append(" ", s("you_marker"));
      }
      return li;
    });
    userList.replaceChildren(...items);
    onlineCount.textContent = s("online_count", { count: users.size });
    people.onRender();
    onChange();
  }

  function renderTyping() {
    const names = [...typers.keys()].filter((n) => !people.isIgnored(n));
    if (names.length === 0) typingLine.textContent = "";
    else if (names.length === 1) {
      typingLine.textContent = s("typing_one", { nickname: names[0] });
    } else {
      typingLine.textContent = s("typing_many", {
        names: names.slice(0, 3).join(s("typing_list_separator")) +
          (names.length > 3 ? "…" : ""),
      });
    }
  }

  /** @param {string} nickname */
  function stopTyping(nickname) {
    if (typers.delete(nickname)) renderTyping();
  }

  return {
    /** Our own nickname, as the server last said it. */
    get me() {
      return me;
    },

    /**
     * Everyone in the room, us included, in no particular order.
     * @returns {string[]}
     */
    list() {
      return [...users];
    },

    /** How many people are in the room, us included. */
    get size() {
      return users.size;
    },

    /**
     * Starts over from a welcome frame's nickname and user list.
     * @param {unknown} nickname
     * @param {unknown} list
     */
    reset(nickname, list) {
      if (typeof nickname === "string") me = nickname;
      users = new Set(
        Array.isArray(list)
          ? list.filter((/** @type {unknown} */ u) => typeof u === "string")
          : [],
      );
      users.add(me);
      renderUsers();
    },

    /**
     * Adds someone who joined; false when they were here already.
     * @param {string} nickname
     * @returns {boolean}
     */
    join(nickname) {
      // A second tab of someone already here is no news
      if (users.has(nickname)) return false;
      users.add(nickname);
      renderUsers();
      return true;
    },

    /**
     * Removes someone who left; false when that changes nothing.
     * @param {string} nickname
     * @returns {boolean}
     */
    leave(nickname) {
      // Our own other tab closing does not take us out of the room
      if (nickname === me || !users.has(nickname)) return false;
      users.delete(nickname);
      stopTyping(nickname);
      renderUsers();
      return true;
    },

    /**
     * Shows that someone else is typing, for a few seconds.
     * @param {unknown} nickname
     */
    typing(nickname) {
      if (typeof nickname !== "string" || nickname === me) return;
      clearTimeout(typers.get(nickname));
      typers.set(
        nickname,
        setTimeout(() => {
          typers.delete(nickname);
          renderTyping();
        }, TYPING_SHOW_MS),
      );
      renderTyping();
    },

    /**
     * Says who is a moderator (badge, no menu) and whom this page ignores
     * (not in the typing line); `onRender` runs after each redraw of the list.
     * @param {import("./message_view.js").People & { onRender: () => void }} who
     */
    setPeople(who) {
      people = who;
    },

    /** Draws the list and the typing line again, as after the moderators or the ignore list changed. */
    redraw() {
      renderUsers();
      renderTyping();
    },

    /** Ends someone's typing line, e.g. because their message arrived. */
    stopTyping,

    /** Forgets all typing, as on a lost socket where no end would arrive. */
    clearTyping() {
      typers.clear();
      renderTyping();
    },
  };
}
