// @ts-check
/**
 * Own messages the server has not confirmed yet. Each carries a client id
 * (cid) so a resend after a reconnect or a refusal is recognised as the
 * same message, and nothing is shown twice or lost.
 *
 * @module
 */

/** Times one message is retried after internal errors before giving up */
const MAX_RETRIES = 5;

/**
 * @typedef {import("./message_log.js").ChatMessage} ChatMessage
 * @typedef {{ cid: string, text: string, el: HTMLElement, sent: boolean,
 *   retries: number, replyTo?: number }} OutboxEntry
 */

/**
 * A random client message id, by which a resent message is recognised.
 * getRandomValues works on plain http too, where crypto.randomUUID does not.
 * @returns {string}
 */
export function newCid() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Keeps own messages until the server confirms them, resending as needed.
 * @param {{ s: import("./page.js").Translate,
 *   log: import("./message_log.js").MessageLog,
 *   send: (frame: unknown) => boolean, isReady: () => boolean,
 *   me: () => string, onRefused: (text: string) => void }} options
 */
export function createOutbox({ s, log, send, isReady, me, onRefused }) {
  /**
   * In the order typed, which is the order they are sent in
   * @type {Map<string, OutboxEntry>}
   */
  const entries = new Map();
  /** Set by a rate_limited error: send one message at a time until caught up */
  let throttled = false;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let retryTimer;

  function flush() {
    clearTimeout(retryTimer);
    retryTimer = undefined;
    for (const entry of entries.values()) {
      if (entry.sent) {
        if (throttled) return;
        continue;
      }
      const frame = { type: "message", text: entry.text, cid: entry.cid };
      if (!send(entry.replyTo ? { ...frame, replyTo: entry.replyTo } : frame)) {
        return;
      }
      entry.sent = true;
      // After a rate limit, one at a time until the queue is through, so a
      // long queue does not earn one refusal per message
      if (throttled) return;
    }
  }

  /** Takes an entry out once it is confirmed or given up */
  function settle(/** @type {OutboxEntry} */ entry) {
    entries.delete(entry.cid);
    if (entries.size === 0) throttled = false;
  }

  /**
   * @param {OutboxEntry} entry
   * @param {string} reason
   * @param {boolean} [restore] offer the text back to the composer
   */
  function fail(entry, reason, restore = false) {
    settle(entry);
    log.fail(entry.el, `${s("notice_not_sent")}: ${reason}`);
    if (restore) onRefused(entry.text);
  }

  /**
   * @param {number} seconds
   * @param {boolean} countsAsTry
   */
  function retryInFlight(seconds, countsAsTry) {
    for (const entry of [...entries.values()]) {
      if (!entry.sent) continue;
      entry.sent = false;
      if (countsAsTry && ++entry.retries > MAX_RETRIES) {
        fail(entry, s("notice_not_sent"));
      }
    }
    clearTimeout(retryTimer);
    retryTimer = setTimeout(flush, Math.max(0.2, seconds) * 1000);
  }

  /** @param {ChatMessage} message */
  function ownEntry(message) {
    return message.cid !== undefined && message.nickname === me()
      ? entries.get(message.cid)
      : undefined;
  }

  return {
    /** Sends what is waiting, as far as the socket and any rate limit allow. */
    flush,

    /** Whether a rate limit has us sending one message at a time. */
    get throttled() {
      return throttled;
    },

    /**
     * Shows a typed message as pending and sends it when it can.
     * @param {string} text
     * @param {ChatMessage["reply"]} [reply] the message it answers
     */
    add(text, reply) {
      const cid = newCid();
      const el = log.addPending({
        type: "message",
        id: 0,
        nickname: me(),
        text,
        ts: Date.now(),
        cid,
        reply,
      });
      entries.set(cid, {
        cid,
        text,
        el,
        sent: false,
        retries: 0,
        replyTo: reply?.id,
      });
      log.updateEmpty();
      log.scrollToBottom();
      flush();
    },

    /**
     * Confirms the pending copy of a new message; false when it is not ours.
     * @param {ChatMessage} message
     * @returns {boolean}
     */
    confirm(message) {
      const entry = ownEntry(message);
      if (!entry) return false;
      settle(entry);
      log.confirm(entry.el, message);
      // While paced, the next queued message goes once this one is in
      if (throttled && isReady()) flush();
      return true;
    },

    /**
     * Drops the pending copy of a message that is already in the log.
     * @param {ChatMessage} message
     */
    dropCopy(message) {
      const copy = ownEntry(message);
      if (!copy) return;
      settle(copy);
      copy.el.remove();
      if (throttled) flush();
    },

    /**
     * Queues what was in flight on a lost socket again, or fails it with `reason`.
     * @param {string} [reason] set when resending would only be refused again
     */
    requeue(reason) {
      const inFlight = [...entries.values()].filter((entry) => entry.sent);
      for (const entry of inFlight) entry.sent = false;
      if (reason === undefined) return;
      for (const entry of inFlight) fail(entry, reason);
    },

    /**
     * Resends what was in flight after the server's wait, one at a time from now.
     * @param {number} seconds
     */
    slowDown(seconds) {
      throttled = true;
      // The server asked us to wait, so waiting is not a failed try
      retryInFlight(seconds, false);
    },

    /**
     * Resends what was in flight after `seconds`, counting it as a try.
     * @param {number} seconds
     */
    retry(seconds) {
      retryInFlight(seconds, true);
    },

    /**
     * Fails the oldest reply in flight, whose original the server no longer has.
     * @param {string} reason
     */
    refuseReply(reason) {
      const refused = [...entries.values()].find((e) => e.sent && e.replyTo);
      if (refused) fail(refused, reason, true);
    },

    /**
     * Fails the oldest message in flight, which the server just refused.
     * @param {string} reason
     */
    refuseOldest(reason) {
      // The server answers frames in order, so the oldest message still in
      // flight is the one refused
      const refused = [...entries.values()].find((e) => e.sent);
      if (refused) fail(refused, reason, true);
      if (throttled) flush();
    },
  };
}
