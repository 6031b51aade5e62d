// @ts-check
/**
 * What the server rendered for the script (templates/chat_page.tsx): the
 * elements, and the translated strings in the JSON block.
 *
 * @module
 */
import { format } from "./text.js";

/**
 * Looks an element up by id and fails loudly when the page lacks it.
 * @template {HTMLElement} T
 * @param {string} id
 * @returns {T}
 */
export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`Missing element #${id} on the chat page`);
  return /** @type {T} */ (el);
}

/**
 * @typedef {(key: string, vars?: Record<string, string | number>) => string}
 *   Translate
 */

/**
 * The page's translator, reading the #strings block; a missing key shows as itself.
 * @returns {Translate}
 */
export function pageStrings() {
  /** @type {Record<string, string>} */
  const strings = JSON.parse(byId("strings").textContent ?? "{}");
  return (key, vars) => format(strings[key] ?? key, vars);
}
