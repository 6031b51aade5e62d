// @ts-check
/**
 * The menu of a person in the user list: Ignore or Stop ignoring for
 * everyone, and for a moderator's page Kick, Mute…, Ban…, Unmute and
 * Unban. It opens from the person's name (presence.js makes it a button
 * for everyone but me and the moderators, whom nobody can act on) and
 * works from the keyboard: the arrows move, Escape closes and the focus
 * goes back to the name. The server checks every moderation action
 * whatever the page offers.
 *
 * @module
 */
import { byId } from "./page.js";

/**
 * @typedef {{ key: string, label: string, run: () => void }} Item
 */

/**
 * Takes over the names in #user-list.
 * @param {{ s: import("./page.js").Translate,
 *   log: import("./message_log.js").MessageLog,
 *   roomState: import("./room_state.js").RoomState,
 *   ignored: import("./ignore_list.js").IgnoreList,
 *   dialog: ReturnType<typeof import("./mod_dialog.js").createModDialog> }} options
 */
export function createUserMenu({ s, log, roomState, ignored, dialog }) {
  const list = byId("user-list");
  const menu = document.createElement("div");
  menu.id = "user-menu";
  menu.className = "user-menu";
  menu.setAttribute("role", "menu");
  /** Whose menu is open */
  /** @type {string | undefined} */
  let open;
  /** The item that last had the focus, to give it back after a redraw */
  let focusAt = 0;

  /**
   * The name button of `nickname` in the list as drawn now.
   * @param {string} nickname
   * @returns {HTMLElement | undefined}
   */
  function buttonOf(nickname) {
    for (const li of list.children) {
      if (li instanceof HTMLElement && li.dataset.nickname === nickname) {
        const button = li.querySelector(":scope > .user-button");
        return button instanceof HTMLElement ? button : undefined;
      }
    }
    return undefined;
  }

  /**
   * What the menu offers for `nickname`, on this page.
   * @param {string} nickname
   * @returns {Item[]}
   */
  function itemsFor(nickname) {
    /** @type {Item[]} */
    const items = [];
    // A moderator's warnings always reach people: they cannot be ignored
    if (roomState.isModerator(nickname)) return items;
    const back = () => buttonOf(nickname);
    items.push(
      ignored.has(nickname)
        ? {
          key: "unignore",
          label: s("menu_unignore"),
          run: () => unignore(nickname),
        }
        : {
          key: "ignore",
          label: s("menu_ignore"),
          run: () => ignore(nickname),
        },
    );
    if (!roomState.rules.moderator) return items;
    items.push(
      {
        key: "kick",
        label: s("menu_kick"),
        run: () => dialog.ask("kick", nickname, { returnFocus: back }),
      },
      {
        key: "mute",
        label: s("menu_mute"),
        run: () => dialog.ask("mute", nickname, { returnFocus: back }),
      },
      {
        key: "unmute",
        label: s("menu_unmute"),
        run: () => dialog.act("unmute", nickname),
      },
      {
        key: "ban",
        label: s("menu_ban"),
        run: () => dialog.ask("ban", nickname, { returnFocus: back }),
      },
      {
        key: "unban",
        label: s("menu_unban"),
        run: () => dialog.act("unban", nickname),
      },
    );
    return items;
  }

  /** @param {string} nickname */
  function ignore(nickname) {
    if (!ignored.add(nickname)) return;
    log.actionNotice(s("ignored_notice", { nickname }), {
      label: s("notice_undo"),
      run: () => unignore(nickname),
    });
  }

  /** @param {string} nickname */
  function unignore(nickname) {
    if (ignored.remove(nickname)) {
      log.notice(s("unignored_notice", { nickname }));
    }
  }

  /**
   * Fills the menu for `nickname` and puts it under their name; false
   * when they have no name button (gone, or nothing to offer).
   * @param {string} nickname
   */
  function place(nickname) {
    const button = buttonOf(nickname);
    const items = itemsFor(nickname);
    if (!button || items.length === 0) return false;
    menu.setAttribute("aria-label", s("user_menu_label", { nickname }));
    menu.replaceChildren(...items.map((item) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "user-menu-item";
      b.setAttribute("role", "menuitem");
      b.tabIndex = -1;
      b.dataset.action = item.key;
      b.textContent = item.label;
      b.addEventListener("click", () => {
        // Dialogs take the focus themselves and give it back to the name
        const asks = item.key === "kick" || item.key === "mute" ||
          item.key === "ban";
        close(!asks);
        item.run();
      });
      return b;
    }));
    button.setAttribute("aria-expanded", "true");
    button.setAttribute("aria-controls", menu.id);
    button.after(menu);
    return true;
  }

  /** @param {boolean} refocus */
  function close(refocus) {
    if (open === undefined) return;
    const button = buttonOf(open);
    open = undefined;
    menu.remove();
    button?.setAttribute("aria-expanded", "false");
    if (refocus) button?.focus();
  }

  /** @returns {HTMLElement[]} */
  function items() {
    return [...menu.querySelectorAll(".user-menu-item")].filter(
      (el) => el instanceof HTMLElement,
    );
  }

  menu.addEventListener("focusin", (event) => {
    const at = items().findIndex((el) => el === event.target);
    if (at >= 0) focusAt = at;
  });
  list.addEventListener("click", (event) => {
    const button = event.target instanceof Element
      ? event.target.closest(".user-button")
      : null;
    const nickname = button?.closest("li")?.dataset.nickname;
    if (nickname === undefined) return;
    if (open === nickname) return close(true);
    close(false);
    if (!place(nickname)) return;
    open = nickname;
    focusAt = 0;
    items()[0]?.focus();
  });
  list.addEventListener("keydown", (event) => {
    if (open === undefined || !menu.contains(document.activeElement)) return;
    const all = items();
    const at = all.indexOf(/** @type {HTMLElement} */ (document.activeElement));
    let next = -1;
    if (event.key === "ArrowDown") next = (at + 1) % all.length;
    else if (event.key === "ArrowUp") next = (at - 1 + all.length) % all.length;
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = all.length - 1;
    else if (event.key === "Escape") {
      event.preventDefault();
      // The side panel on a phone closes on Escape too: one thing at a time
      event.stopPropagation();
      return close(true);
    } else if (event.key === "Tab") return close(false);
    if (next < 0) return;
    event.preventDefault();
    all[next]?.focus();
  });
  document.addEventListener("pointerdown", (event) => {
    if (open === undefined) return;
    const target = event.target instanceof Node ? event.target : null;
    if (target && (menu.contains(target) || buttonOf(open)?.contains(target))) {
      return;
    }
    close(false);
  });

  return {
    /**
     * Puts the open menu back under its name after the list was drawn
     * again (someone joined, the moderators or the ignore list changed),
     * or closes it when that person is gone.
     */
    placed() {
      if (open === undefined) return;
      // Drawing the list again took the menu, and the focus in it, away
      const had = menu.contains(document.activeElement) ||
        document.activeElement === document.body;
      if (!place(open)) {
        open = undefined;
        menu.remove();
        return;
      }
      const all = items();
      if (had) all[Math.min(focusAt, all.length - 1)]?.focus();
    },
  };
}
