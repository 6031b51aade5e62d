// @ts-check
/**
 * The people this browser does not want to read: nicknames kept in
 * localStorage under one key as a JSON array. Only this page hides their
 * messages; the server and everyone else know nothing of it.
 *
 * Whatever is stored is read defensively: a value that is not JSON, not
 * an array of short strings, too long or too large reads as an empty list,
 * and storage that throws (disabled, full, private mode) is treated as
 * absent, so a bad value can never stop the page from loading.
 *
 * @module
 */

/** The localStorage key of the list. */
export const IGNORE_KEY = "chat.ignored";

/** Names kept at most; adding one more forgets the one ignored longest ago. */
export const MAX_IGNORED = 200;

/** Longer than any nickname the server accepts (24), in UTF-16 units */
const MAX_NAME_UNITS = 100;
/** Far more than 200 names of that size take, so a huge value is never parsed */
const MAX_STORED_CHARS = MAX_IGNORED * (MAX_NAME_UNITS + 3) + 2;

/**
 * What the list needs of a Storage: localStorage, or a stand-in in tests.
 * @typedef {{ getItem(key: string): string | null,
 *   setItem(key: string, value: string): void }} NameStorage
 */

/**
 * Reads a stored value into names, oldest first; anything unexpected is an empty list.
 * @param {unknown} raw
 * @returns {string[]}
 */
export function parseIgnored(raw) {
  if (typeof raw !== "string" || raw.length > MAX_STORED_CHARS) return [];
  /** @type {unknown} */
  let value;
  try {
    value = JSON.parse(raw);
  } catch {
    return [];
  }
  if (!Array.isArray(value) || value.length > MAX_IGNORED) return [];
  const ok = value.every((name) =>
    typeof name === "string" && name !== "" && name.length <= MAX_NAME_UNITS
  );
  return ok ? [...new Set(value)] : [];
}

/**
 * The list after ignoring `nickname`: last, once, and within the cap.
 * @param {readonly string[]} names
 * @param {string} nickname
 * @returns {string[]}
 */
export function withIgnored(names, nickname) {
  const next = names.filter((name) => name !== nickname);
  next.push(nickname);
  return next.slice(-MAX_IGNORED);
}

/**
 * The page's localStorage, or undefined where reading it throws (storage
 * disabled, a sandboxed frame).
 * @returns {NameStorage | undefined}
 */
export function pageStorage() {
  try {
    return globalThis.localStorage ?? undefined;
  } catch {
    return undefined;
  }
}

/**
 * Keeps the ignore list in `storage` (none: for this page only).
 * @param {{ storage?: NameStorage, key?: string }} [options]
 */
export function createIgnoreList({ storage, key = IGNORE_KEY } = {}) {
  /** @type {string[]} */
  let names = [];
  try {
    names = parseIgnored(storage?.getItem(key));
  } catch {
    names = [];
  }
  let set = new Set(names);
  /** @type {Set<(nickname: string) => void>} */
  const listeners = new Set();

  /**
   * @param {string[]} next
   * @param {string} nickname
   */
  function save(next, nickname) {
    names = next;
    set = new Set(names);
    try {
      storage?.setItem(key, JSON.stringify(names));
    } catch {
      // Full or disabled storage: the list still holds for this page
    }
    for (const listener of listeners) listener(nickname);
  }

  return {
    /**
     * Whether `nickname` is on the list.
     * @param {string} nickname
     */
    has(nickname) {
      return set.has(nickname);
    },

    /** The names on the list, oldest first. */
    list() {
      return [...names];
    },

    /**
     * Puts `nickname` on the list; false when it was there already or is
     * not a name that could be stored.
     * @param {string} nickname
     */
    add(nickname) {
      if (set.has(nickname) || nickname === "") return false;
      if (nickname.length > MAX_NAME_UNITS) return false;
      save(withIgnored(names, nickname), nickname);
      return true;
    },

    /**
     * Takes `nickname` off the list; false when it was not on it.
     * @param {string} nickname
     */
    remove(nickname) {
      if (!set.has(nickname)) return false;
      save(names.filter((name) => name !== nickname), nickname);
      return true;
    },

    /**
     * Calls `listener` with the nickname after each change.
     * @param {(nickname: string) => void} listener
     * @returns {() => void} stops listening
     */
    listen(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** What {@linkcode createIgnoreList} returns. */
/** @typedef {ReturnType<typeof createIgnoreList>} IgnoreList */
