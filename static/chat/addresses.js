// @ts-check
/**
 * Where a room lives: its slug, its page and its WebSocket. Pure, so tests
 * import it outside a browser.
 *
 * @module
 */
import { isRoomName, LOBBY } from "../shared/protocol.js";

/**
 * Turns a typed room name into a room slug, or null when none fits.
 * @param {string} input
 * @returns {string | null}
 */
export function roomSlug(input) {
  const slug = input.trim().toLowerCase().replace(/[\s_]+/g, "-");
  return isRoomName(slug) ? slug : null;
}

/**
 * The page address of a room; the lobby's is plain `/chat`.
 * @param {string} room
 * @returns {string}
 */
export function roomPath(room) {
  return room === LOBBY ? "/chat" : `/chat/${room}`;
}

/**
 * The WebSocket address of a room, asking for what came after `since` in
 * the stream `epoch` (when the page knows it).
 * @param {{ protocol: string, host: string }} location
 * @param {string} room
 * @param {{ since: number, epoch?: string }} [resume]
 * @returns {string}
 */
export function socketUrl(location, room, resume) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  let query = resume === undefined ? "" : `?since=${resume.since}`;
  if (resume?.epoch) query += `&epoch=${encodeURIComponent(resume.epoch)}`;
  return `${scheme}://${location.host}/ws/${encodeURIComponent(room)}${query}`;
}
