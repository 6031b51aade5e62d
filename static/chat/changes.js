// @ts-check
/**
 * Applying edits, deletions and reactions to the page's copy of a message,
 * with the server's rules (lib/storage/message_state.ts): a change to a
 * deleted message is ignored. Pure, so tests import it outside a browser.
 *
 * @module
 */

/** Characters of an original that a reply quotes, as the server cuts them */
const SNIPPET_CHARS = 100;

/**
 * @typedef {import("./message_log.js").ChatMessage} ChatMessage
 * @typedef {{ type: "edit", target: number, text: string }
 *   | { type: "delete", target: number, by?: string }
 *   | { type: "reaction", target: number, emoji: string, nickname: string,
 *       on: boolean }} Change
 */

/**
 * Applies `change` to `message`; false when it changes nothing.
 * @param {ChatMessage} message
 * @param {Change} change
 * @returns {boolean}
 */
export function applyChange(message, change) {
  if (message.deleted) return false;
  if (change.type === "edit") {
    if (typeof change.text !== "string") return false;
    message.text = change.text;
    message.edited = true;
    return true;
  }
  if (change.type === "delete") {
    message.deleted = true;
    message.deletedBy = change.by === "moderator" ? "moderator" : "author";
    message.text = "";
    delete message.reactions;
    delete message.reply;
    return true;
  }
  if (change.type !== "reaction" || typeof change.emoji !== "string") {
    return false;
  }
  const reactions = message.reactions ??= {};
  const who = reactions[change.emoji] ?? [];
  const had = who.includes(change.nickname);
  if (change.on === had) return false;
  if (change.on) reactions[change.emoji] = [...who, change.nickname];
  else {
    const left = who.filter((n) => n !== change.nickname);
    if (left.length > 0) reactions[change.emoji] = left;
    else delete reactions[change.emoji];
  }
  return true;
}

/**
 * Brings a reply's quote of `original` up to date after it changed.
 * @param {ChatMessage} reply
 * @param {ChatMessage} original
 * @returns {boolean} whether the quote changed
 */
export function requote(reply, original) {
  if (!reply.reply || reply.replyTo !== original.id) return false;
  reply.reply = {
    ...reply.reply,
    text: original.deleted
      ? ""
      : [...original.text].slice(0, SNIPPET_CHARS).join(""),
  };
  return true;
}
