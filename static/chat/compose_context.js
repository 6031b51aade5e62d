// @ts-check
/**
 * What the message box is doing besides writing a new message: replying
 * to one (its quote shown above the box) or editing one's own. The bar
 * says which; Cancel or Escape ends it.
 *
 * @module
 */
import { byId } from "./page.js";

/** Characters of the original the bar and the pending reply quote */
const SNIPPET = 100;

/**
 * @typedef {import("./message_log.js").ChatMessage} ChatMessage
 * @typedef {{ kind: "reply" | "edit", message: ChatMessage }} Context
 */

/**
 * @param {{ s: import("./page.js").Translate, onCancel: (was: Context) => void }} options
 */
export function createComposeContext({ s, onCancel }) {
  const bar = byId("compose-context");
  const text = byId("compose-context-text");
  const cancel = byId("compose-context-cancel");
  /** @type {Context | undefined} */
  let current;

  function clear() {
    current = undefined;
    bar.hidden = true;
    text.textContent = "";
  }

  cancel.addEventListener("click", () => {
    const was = current;
    clear();
    if (was) onCancel(was);
  });

  return {
    /** What the box is doing, or undefined for a new message. */
    get current() {
      return current;
    },

    /**
     * @param {"reply" | "edit"} kind
     * @param {ChatMessage} message
     */
    set(kind, message) {
      current = { kind, message };
      bar.hidden = false;
      bar.dataset.kind = kind;
      text.textContent = kind === "edit" ? s("editing") : s("replying_to", {
        nickname: message.nickname,
        text: [...message.text].slice(0, SNIPPET).join(""),
      });
    },

    /** Back to writing a new message. */
    clear,

    /**
     * The quote a reply to the current message carries, for its pending copy.
     * @returns {ChatMessage["reply"]}
     */
    quote() {
      if (current?.kind !== "reply") return undefined;
      const { id, nickname, text } = current.message;
      return { id, nickname, text: [...text].slice(0, SNIPPET).join("") };
    },
  };
}
