// @ts-check
/**
 * The messages of the log by id, each in its latest state with its
 * element once it is in the page: what changes, scrollback, jumps and Up
 * to edit look messages up in.
 *
 * @module
 */

/**
 * @typedef {import("./message_log.js").ChatMessage} ChatMessage
 */

/** An empty index; message_log.js fills it as messages go in and out. */
export function createMessageIndex() {
  /** @type {Map<number, { message: ChatMessage, el?: HTMLElement }>} */
  const byId = new Map();

  return {
    /**
     * @param {ChatMessage} message
     * @param {HTMLElement} [el]
     */
    set(message, el) {
      byId.set(message.id, { message, el });
    },

    /** @param {number} id */
    has(id) {
      return byId.has(id);
    },

    /** @param {number} id */
    delete(id) {
      byId.delete(id);
    },

    /**
     * The message with this id, in its latest state, if the log has it.
     * @param {number} id
     * @returns {ChatMessage | undefined}
     */
    get(id) {
      return byId.get(id)?.message;
    },

    /**
     * The element of message `id`, if it is in the log.
     * @param {number} id
     * @returns {HTMLElement | undefined}
     */
    element(id) {
      return byId.get(id)?.el;
    },

    /**
     * The lowest message id in the log, 0 when it has none.
     * @returns {number}
     */
    oldestId() {
      let oldest = 0;
      for (const id of byId.keys()) {
        if (oldest === 0 || id < oldest) oldest = id;
      }
      return oldest;
    },

    /**
     * The newest message of `nickname` that is not deleted, for Up to edit.
     * @param {string} nickname
     * @returns {ChatMessage | undefined}
     */
    lastOf(nickname) {
      /** @type {ChatMessage | undefined} */
      let last;
      for (const { message } of byId.values()) {
        if (message.nickname !== nickname || message.deleted) continue;
        if (!last || message.id > last.id) last = message;
      }
      return last;
    },

    /**
     * Every message in the log, e.g. to requote the replies to one that changed.
     * @returns {ChatMessage[]}
     */
    messages() {
      return [...byId.values()].map((known) => known.message);
    },
  };
}
