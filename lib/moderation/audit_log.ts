/**
 * The moderation audit log in KV: who did what to whom, when and why.
 * Entries are kept until an operator deletes them; ids sort by time, so a
 * page is one reverse range read.
 *
 * @module
 */
import { KEYS } from "../storage/keys.ts";

/** One recorded action (or its reverse). */
export interface AuditEntry {
  id: string;
  /** Milliseconds since the epoch. */
  at: number;
  /** The moderator's nickname. */
  by: string;
  action: string;
  /** The nickname acted on, for actions on a person. */
  target?: string;
  room?: string;
  reason?: string;
  /** "10m", "1h", "1d" or "permanent", for bans and mutes. */
  duration?: string;
  /** When a ban or mute ends; null when permanent. */
  until?: number | null;
  /** Slow mode's interval. */
  seconds?: number;
  /** A new topic. */
  text?: string;
  /** The message a moderator removed (its author is `target`). */
  message?: number;
}

/** What a caller records: everything but the id and the time. */
export type AuditInput = Omit<AuditEntry, "id" | "at">;

/** A page of entries, newest first, and the cursor for the next (older) page. */
export interface AuditPage {
  entries: AuditEntry[];
  next?: string;
}

/** What an entry id looks like: a `before` cursor must be one. */
export const AUDIT_ID_PATTERN = /^[0-9a-z]{10}-[0-9a-f]{8}$/;
/** Most entries one page returns. */
export const MAX_AUDIT_PAGE = 200;

/** Reads and appends the audit log. */
export class AuditLog {
  #kv: Deno.Kv;
  /** The time part of the last id made here, so ids made in one millisecond keep their order. */
  #lastStamp = 0;

  constructor(kv: Deno.Kv) {
    this.#kv = kv;
  }

  /** Appends one entry at `now`. */
  async record(input: AuditInput, now: number): Promise<AuditEntry> {
    const random = Array.from(
      crypto.getRandomValues(new Uint8Array(4)),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
    const stamp = this.#lastStamp = Math.max(now, this.#lastStamp + 1);
    const id = `${stamp.toString(36).padStart(10, "0")}-${random}`;
    const entry: AuditEntry = { id, at: now, ...input };
    await this.#kv.set(KEYS.audit(id), entry);
    return entry;
  }

  /** Up to `limit` entries older than the entry `before` (or the newest), newest first. */
  async page(options: { before?: string; limit: number }): Promise<AuditPage> {
    const selector: Deno.KvListSelector = options.before
      ? { prefix: KEYS.auditPrefix, end: KEYS.audit(options.before) }
      : { prefix: KEYS.auditPrefix };
    const entries: AuditEntry[] = [];
    // One more than asked says whether an older page exists.
    const iter = this.#kv.list<AuditEntry>(selector, {
      reverse: true,
      limit: options.limit + 1,
    });
    for await (const item of iter) entries.push(item.value);
    const more = entries.length > options.limit;
    if (more) entries.length = options.limit;
    return more ? { entries, next: entries.at(-1)!.id } : { entries };
  }
}
