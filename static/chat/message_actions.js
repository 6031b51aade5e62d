// @ts-check
/**
 * What a person does to a message: react (a fixed palette or any single
 * emoji typed), reply, and, on their own messages, edit (within the edit
 * window) and delete; a moderator deletes anyone's (a `mod` frame), with
 * the same second press to confirm. Show opens a message collapsed
 * because its author is ignored. One toolbar moves to the message pointed at or
 * focused; Up and Down move focus between messages in the log, Tab reaches
 * the toolbar, Escape goes back. Reaction buttons toggle; quotes lead to
 * their original.
 *
 * @module
 */
import { isReactionEmoji, REACTION_PALETTE } from "../shared/protocol.js";
import { byId } from "./page.js";

/** How long "Really delete?" waits for the second press */
const CONFIRM_MS = 5000;

/**
 * @typedef {import("./message_log.js").ChatMessage} ChatMessage
 */

/**
 * @param {{ s: import("./page.js").Translate,
 *   log: import("./message_log.js").MessageLog, me: () => string,
 *   editWindowMs: number, send: (frame: unknown) => void,
 *   onReply: (message: ChatMessage) => void,
 *   onEdit: (message: ChatMessage) => void,
 *   jump: (id: number) => void, isModerator?: () => boolean }} options
 *   `isModerator`: whether this page's session is a moderator's, who may
 *   delete any message (the server checks)
 */
export function createMessageActions(
  {
    s,
    log,
    me,
    editWindowMs,
    send,
    onReply,
    onEdit,
    jump,
    isModerator = () => false,
  },
) {
  const logEl = byId("messages");
  const toolbar = document.createElement("div");
  toolbar.className = "msg-toolbar";
  toolbar.setAttribute("role", "toolbar");
  const reactButton = button("action_react", "react");
  reactButton.setAttribute("aria-expanded", "false");
  const replyButton = button("action_reply", "reply");
  const editButton = button("action_edit", "edit");
  const deleteButton = button("action_delete", "delete");
  const picker = createPicker();
  toolbar.append(reactButton, replyButton, editButton, deleteButton, picker.el);
  /** @type {ChatMessage | undefined} */
  let current;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let confirmTimer;

  /**
   * @param {string} key
   * @param {string} action
   */
  function button(key, action) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "msg-action";
    b.dataset.action = action;
    b.textContent = s(key);
    return b;
  }

  /** Moves the toolbar into message element `el`, for its message. */
  function attach(/** @type {HTMLElement} */ el) {
    const message = log.index.get(Number(el.dataset.id));
    // A collapsed message offers Show alone, until it is shown
    if (!message || message.deleted || el.classList.contains("ignored")) {
      return detach();
    }
    if (toolbar.parentElement === el) return;
    resetDelete();
    picker.close();
    current = message;
    const own = message.nickname === me();
    editButton.hidden = !own || Date.now() - message.ts >= editWindowMs;
    deleteButton.hidden = !own && !isModerator();
    toolbar.setAttribute(
      "aria-label",
      s("actions_label", { nickname: message.nickname }),
    );
    el.append(toolbar);
  }

  function detach() {
    picker.close();
    toolbar.remove();
    current = undefined;
  }

  function resetDelete() {
    clearTimeout(confirmTimer);
    deleteButton.textContent = s("action_delete");
    deleteButton.classList.remove("confirm");
  }

  /** @param {string} emoji */
  function react(emoji) {
    if (current) send({ type: "react", target: current.id, emoji });
  }

  function createPicker() {
    const el = document.createElement("div");
    el.className = "reaction-picker";
    el.setAttribute("role", "group");
    el.setAttribute("aria-label", s("reaction_palette_label"));
    el.hidden = true;
    for (const emoji of REACTION_PALETTE) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "picker-emoji";
      b.dataset.emoji = emoji;
      b.textContent = emoji;
      el.append(b);
    }
    const form = document.createElement("form");
    form.className = "picker-other";
    const other = document.createElement("input");
    other.type = "text";
    other.className = "text-input picker-input";
    other.maxLength = 32;
    other.setAttribute("aria-label", s("reaction_other_label"));
    other.placeholder = s("reaction_other_label");
    const add = document.createElement("button");
    add.type = "submit";
    add.className = "button small";
    add.textContent = s("reaction_other_add");
    const error = document.createElement("p");
    error.className = "field-error";
    error.setAttribute("role", "alert");
    error.hidden = true;
    form.append(other, add, error);
    el.append(form);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const emoji = other.value.trim();
      if (!isReactionEmoji(emoji)) {
        error.textContent = s("reaction_invalid");
        error.hidden = false;
        return;
      }
      react(emoji);
      close(true);
    });
    /** @param {boolean} [refocus] */
    function close(refocus = false) {
      if (el.hidden) return;
      el.hidden = true;
      other.value = "";
      error.hidden = true;
      reactButton.setAttribute("aria-expanded", "false");
      if (refocus) reactButton.focus();
    }
    return {
      el,
      close,
      open() {
        el.hidden = false;
        reactButton.setAttribute("aria-expanded", "true");
        el.querySelector("button")?.focus();
      },
    };
  }

  /** @param {number} step -1 up, 1 down */
  function moveFocus(step) {
    const items = [...logEl.querySelectorAll(":scope > .msg[data-id]")];
    const from = document.activeElement instanceof Element
      ? document.activeElement.closest(".msg")
      : null;
    const at = from ? items.indexOf(from) : items.length;
    const next = /** @type {HTMLElement | undefined} */ (
      items[Math.max(0, Math.min(items.length - 1, at + step))]
    );
    if (!next) return;
    next.tabIndex = -1;
    next.focus();
  }

  toolbar.addEventListener("click", (event) => {
    const target = event.target instanceof Element
      ? event.target.closest("button")
      : null;
    if (!target || !current) return;
    const action = target.dataset.action;
    if (target.dataset.emoji && target.classList.contains("picker-emoji")) {
      react(target.dataset.emoji);
      picker.close(true);
    } else if (action === "react") {
      if (picker.el.hidden) picker.open();
      else picker.close();
    } else if (action === "reply") onReply(current);
    else if (action === "edit") onEdit(current);
    else if (action === "delete") {
      if (!deleteButton.classList.contains("confirm")) {
        deleteButton.textContent = s("action_delete_confirm");
        deleteButton.classList.add("confirm");
        confirmTimer = setTimeout(resetDelete, CONFIRM_MS);
        return;
      }
      resetDelete();
      // One's own message goes as one's own, even for a moderator
      send(
        current.nickname === me()
          ? { type: "delete", target: current.id }
          : { type: "mod", action: "delete", target: current.id },
      );
    }
  });
  logEl.addEventListener("click", (event) => {
    if (!(event.target instanceof Element)) return;
    const reaction = event.target.closest(".reaction");
    const el = event.target.closest(".msg[data-id]");
    if (reaction instanceof HTMLElement && el instanceof HTMLElement) {
      const emoji = reaction.dataset.emoji;
      if (emoji) {
        send({ type: "react", target: Number(el.dataset.id), emoji });
      }
      return;
    }
    if (event.target.closest(".msg-show") && el instanceof HTMLElement) {
      log.reveal(Number(el.dataset.id), true);
      // The message keeps the focus the Show button had
      el.tabIndex = -1;
      el.focus();
      return;
    }
    const quote = event.target.closest(".msg-quote");
    if (quote instanceof HTMLElement) jump(Number(quote.dataset.reply));
  });
  logEl.addEventListener("pointerover", (event) => {
    // A toolbar someone is using with the keyboard stays where it is
    if (toolbar.contains(document.activeElement)) return;
    const el = event.target instanceof Element
      ? event.target.closest(".msg[data-id]")
      : null;
    if (el instanceof HTMLElement) attach(el);
  });
  logEl.addEventListener("pointerleave", () => {
    if (!toolbar.contains(document.activeElement)) detach();
  });
  logEl.addEventListener("focusin", (event) => {
    const el = event.target instanceof Element
      ? event.target.closest(".msg[data-id]")
      : null;
    if (el instanceof HTMLElement) attach(el);
  });
  logEl.addEventListener("keydown", (event) => {
    const inPicker = event.target instanceof Element &&
      event.target.closest(".reaction-picker");
    if (event.key === "Escape" && toolbar.contains(document.activeElement)) {
      event.preventDefault();
      if (inPicker) return picker.close(true);
      const el = toolbar.parentElement;
      if (el) el.focus();
      return;
    }
    if (inPicker || event.target instanceof HTMLInputElement) return;
    if (event.key === "ArrowUp" || event.key === "ArrowDown") {
      event.preventDefault();
      moveFocus(event.key === "ArrowUp" ? -1 : 1);
    }
  });

  return {
    /** Takes the toolbar off a message that changed under it, if it was deleted. */
    refresh() {
      if (current?.deleted) detach();
    },
  };
}
