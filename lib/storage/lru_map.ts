/**
 * A Map that keeps at most a fixed number of entries, dropping the least
 * recently used one first.
 *
 * @module
 */

/** A bounded least-recently-used cache. */
export class LruMap<K, V> {
  #max: number;
  #entries = new Map<K, V>();

  /** A cache of at most `max` entries (at least one). */
  constructor(max: number) {
    this.#max = Math.max(1, Math.floor(max));
  }

  /** How many entries it holds now. */
  get size(): number {
    return this.#entries.size;
  }

  /** The value for `key`, now the most recently used; undefined if absent. */
  get(key: K): V | undefined {
    const value = this.#entries.get(key);
    if (value === undefined) return undefined;
    // A Map iterates in insertion order: re-inserting makes it the newest.
    this.#entries.delete(key);
    this.#entries.set(key, value);
    return value;
  }

  /** Stores `value` under `key`, dropping the oldest entry when full. */
  set(key: K, value: V): void {
    this.#entries.delete(key);
    this.#entries.set(key, value);
    if (this.#entries.size > this.#max) {
      this.#entries.delete(this.#entries.keys().next().value as K);
    }
  }
}
