// @ts-check
/**
 * The message box: Enter sends and Shift+Enter breaks the line, typing is
 * announced to the room now and then, and the box is off while offline or
 * while the room's rules keep this user from posting (saying why).
 *
 * @module
 */
import { byId } from "./page.js";

/** The least time between two typing frames we send */
const TYPING_SEND_MS = 2000;

/**
 * Wires the composer form; `onSend` gets each non-blank message typed.
 * @param {{ onSend: (text: string) => void, sendTyping: () => boolean,
 *   onKey: (event: KeyboardEvent) => boolean }} options
 *   `sendTyping` is false when there was no socket to send on; `onKey`
 *   sees each key first (the mention picker, Up to edit, Escape) and
 *   returns true when it took it
 */
export function createComposer({ onSend, sendTyping, onKey }) {
  const composer = /** @type {HTMLFormElement} */ (byId("composer"));
  const input = /** @type {HTMLTextAreaElement} */ (byId("message-input"));
  const sendButton = /** @type {HTMLButtonElement} */ (byId("send-button"));
  let lastTypingSent = 0;
  /** Whether the input had focus when going offline or blocked disabled it */
  let refocus = false;
  let offline = false;
  /** Why the room's rules keep this user from posting; "" when they do not */
  let blockedBy = "";
  const placeholder = input.placeholder;

  // Offline and blocked are separate reasons: either keeps the box off,
  // and it comes back only once neither holds
  function update() {
    const disable = offline || blockedBy !== "";
    input.placeholder = blockedBy || placeholder;
    composer.classList.toggle("composer-blocked", blockedBy !== "");
    if (input.disabled === disable) return;
    // Disabling drops focus; give it back when the input returns
    if (disable) refocus = document.activeElement === input;
    input.disabled = disable;
    sendButton.disabled = disable;
    if (!disable && refocus) input.focus();
  }

  function sendCurrent() {
    if (input.disabled) return;
    const text = input.value.trim();
    if (text === "") return;
    input.value = "";
    onSend(text);
  }

  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    sendCurrent();
    input.focus();
  });
  input.addEventListener("keydown", (event) => {
    if (!event.isComposing && onKey(event)) return;
    // isComposing: Enter that picks a candidate in a Chinese IME must not send
    if (
      event.key === "Enter" && !event.shiftKey && !event.altKey &&
      !event.isComposing && event.keyCode !== 229
    ) {
      event.preventDefault();
      sendCurrent();
    }
  });
  input.addEventListener("input", () => {
    const now = Date.now();
    if (input.value.trim() === "" || now - lastTypingSent < TYPING_SEND_MS) {
      return;
    }
    if (sendTyping()) lastTypingSent = now;
  });
  // Focus the target ourselves: a fragment link alone only moves the
  // starting point of sequential navigation in some browsers
  document.querySelector(".skip-link")?.addEventListener("click", (event) => {
    event.preventDefault();
    input.focus();
  });
  // Ready to type on a desktop; on touch screens this would pop up the
  // keyboard over the messages
  if (matchMedia("(pointer: fine)").matches) input.focus();

  return {
    /** What is typed in the box. */
    get value() {
      return input.value;
    },

    /**
     * Puts `text` in the box, the cursor at its end (editing a message).
     * @param {string} text
     */
    set(text) {
      input.value = text;
      input.focus();
      input.setSelectionRange(text.length, text.length);
    },

    /** Puts the cursor in the message box. */
    focus() {
      input.focus();
    },

    /**
     * Turns the box and its button off while offline, keeping focus for later.
     * @param {boolean} disable
     */
    setOffline(disable) {
      offline = disable;
      update();
    },

    /**
     * Turns the box off while the room's rules keep this user from posting,
     * showing `reason` in it; "" lets them post again (unless offline).
     * @param {string} reason
     */
    setBlocked(reason) {
      blockedBy = reason;
      update();
    },

    /**
     * Offers a refused message's text back, unless something new is typed.
     * @param {string} text
     */
    restore(text) {
      if (input.value.trim() === "") input.value = text;
    },
  };
}
