/**
 * Durable room history in Deno KV: a per-room sequence and the last
 * HISTORY_SIZE messages, committed before anyone sees them.
 *
 * @module
 */
import type { ChatMessage, SequencedEvent } from "../chat/protocol.ts";
import { KEYS } from "./keys.ts";
import { LruMap } from "./lru_map.ts";
import {
  copyExtra,
  eventFromRecord,
  type StoredExtra,
  type StoredRecord,
} from "./message_state.ts";

/** A message (or a change to one, message_state.ts) before the store has given it an id. */
export type NewMessage = StoredRecord;

/** What a joining client is sent: history, the room's head and whether it is complete. */
export interface HistoryPage {
  /** Messages, and on a recovered resume the changes to earlier ones too. */
  messages: SequencedEvent[];
  seq: number;
  /** The stream's epoch; "" while the room never had a message. */
  epoch: string;
  recovered: boolean;
}

/** What a valid epoch looks like, in a resume query or an export. */
export const EPOCH_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

/** A new random epoch: 16 url-safe characters. */
export function newEpoch(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-")
    .replaceAll("/", "_");
}

/** Storage of room histories. */
export interface HistoryStore {
  /** Commits messages in one atomic operation (per chunk) and returns them with ids. */
  append(room: string, messages: NewMessage[]): Promise<SequencedEvent[]>;
  /** The last `limit` messages, oldest first, and the room's head. */
  recent(room: string, limit: number): Promise<HistoryPage>;
  /**
   * Every kept message after `after`, oldest first; recovered is false when
   * some are gone, or when `epoch` is not the room's (its ids started over):
   * then the page is the recent history.
   */
  since(room: string, after: number, epoch?: string): Promise<HistoryPage>;
  /** Messages with ids in (after, upTo], oldest first. */
  range(room: string, after: number, upTo: number): Promise<SequencedEvent[]>;
  /** The newest `limit` events with ids below `before`, oldest first (scrollback). */
  before(
    room: string,
    before: number,
    limit: number,
  ): Promise<SequencedEvent[]>;
  /** The session hash stored with message `id`: who may change it. */
  owner(room: string, id: number): Promise<string | undefined>;
  /** The room's current sequence (0 when it never had a message). */
  head(room: string): Promise<number>;
}

/** Options for {@linkcode createKvStore}. */
export interface KvStoreOptions {
  historySize: number;
  ttlMs: number;
  /** Rooms whose head this process remembers; the least recently used go first. */
  headCacheSize?: number;
}

/** Rooms whose last written head a store remembers, unless told otherwise. */
export const HEAD_CACHE_SIZE = 1024;

interface Stored extends StoredExtra {
  nickname: string;
  text: string;
  ts: number;
  cid?: string;
}

// Deno KV caps an atomic operation at 1000 mutations and 800 KB in all.
const MAX_CHUNK_MESSAGES = 400;
const MAX_CHUNK_BYTES = 500_000;

function toMessage(id: number, value: Stored): SequencedEvent {
  const msg: ChatMessage = {
    type: "message",
    id,
    nickname: value.nickname,
    text: value.text,
    ts: value.ts,
  };
  if (value.cid !== undefined) msg.cid = value.cid;
  return eventFromRecord(msg, value);
}

function chunks(messages: NewMessage[]): NewMessage[][] {
  const out: NewMessage[][] = [];
  let current: NewMessage[] = [];
  let bytes = 0;
  for (const m of messages) {
    // Three bytes per UTF-16 unit bounds the UTF-8 size.
    const size = 64 + (m.text.length + m.nickname.length) * 3;
    if (
      current.length > 0 &&
      (current.length >= MAX_CHUNK_MESSAGES || bytes + size > MAX_CHUNK_BYTES)
    ) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(m);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** A store over a Deno KV handle, safe to share between processes. */
export function createKvStore(
  kv: Deno.Kv,
  options: KvStoreOptions,
): HistoryStore {
  const { historySize, ttlMs } = options;
  const seqKey = KEYS.head;
  const msgKey = KEYS.message;
  // The last head this process wrote; a stale guess only costs one retry,
  // and a forgotten one one read, so it is bounded (one entry per room ever
  // visited would grow forever).
  const heads = new LruMap<string, Deno.KvEntryMaybe<number>>(
    options.headCacheSize ?? HEAD_CACHE_SIZE,
  );

  async function readHead(room: string): Promise<Deno.KvEntryMaybe<number>> {
    const entry = await kv.get<number>(seqKey(room));
    heads.set(room, entry);
    return entry;
  }

  async function appendChunk(
    room: string,
    messages: NewMessage[],
  ): Promise<SequencedEvent[]> {
    let entry = heads.get(room) ?? await readHead(room);
    for (let attempt = 0;; attempt++) {
      const head = entry.value ?? 0;
      const next = head + messages.length;
      let op = kv.atomic().check(entry).set(seqKey(room), next);
      // A new head starts a new stream: ids from 1 again, under a new epoch.
      if (entry.versionstamp === null) {
        op = op.set(KEYS.epoch(room), newEpoch());
      }
      const out: SequencedEvent[] = [];
      messages.forEach((m, i) => {
        const id = head + 1 + i;
        const value: Stored = { nickname: m.nickname, text: m.text, ts: m.ts };
        if (m.cid !== undefined) value.cid = m.cid;
        copyExtra(m, value);
        op = op.set(msgKey(room, id), value, { expireIn: ttlMs });
        out.push(toMessage(id, value));
      });
      // Trim what falls out of the window: ids (head - size, next - size].
      const from = Math.max(1, head - historySize + 1);
      for (let id = from; id <= next - historySize; id++) {
        op = op.delete(msgKey(room, id));
      }
      const result = await op.commit();
      if (result.ok) {
        heads.set(room, {
          key: seqKey(room),
          value: next,
          versionstamp: result.versionstamp,
        });
        return out;
      }
      if (attempt >= 50) {
        throw new Error(`Cannot append to room "${room}": too much contention`);
      }
      entry = await readHead(room);
    }
  }

  async function append(
    room: string,
    messages: NewMessage[],
  ): Promise<SequencedEvent[]> {
    const out: SequencedEvent[] = [];
    for (const chunk of chunks(messages)) {
      out.push(...await appendChunk(room, chunk));
    }
    return out;
  }

  async function list(
    room: string,
    after: number,
    options: { limit?: number; reverse?: boolean; upTo?: number } = {},
  ): Promise<SequencedEvent[]> {
    const out: SequencedEvent[] = [];
    const iter = kv.list<Stored>({
      start: msgKey(room, after + 1),
      end: msgKey(
        room,
        options.upTo === undefined ? Infinity : options.upTo + 1,
      ),
    }, { limit: options.limit, reverse: options.reverse, batchSize: 200 });
    for await (const entry of iter) {
      out.push(toMessage(entry.key[2] as number, entry.value));
    }
    if (options.reverse) out.reverse();
    return out;
  }

  async function head(room: string): Promise<number> {
    return (await readHead(room)).value ?? 0;
  }

  // The head and its epoch, read together. A head without an epoch (stored
  // before epochs, or imported without one) gets one now.
  async function position(
    room: string,
  ): Promise<{ seq: number; epoch: string }> {
    const [entry, epochEntry] = await kv.getMany<[number, string]>([
      seqKey(room),
      KEYS.epoch(room),
    ]);
    heads.set(room, entry);
    const seq = entry.value ?? 0;
    if (seq === 0) return { seq, epoch: "" };
    if (epochEntry.value !== null) return { seq, epoch: epochEntry.value };
    const made = newEpoch();
    const result = await kv.atomic().check(epochEntry)
      .set(KEYS.epoch(room), made).commit();
    if (result.ok) return { seq, epoch: made };
    return { seq, epoch: (await kv.get<string>(KEYS.epoch(room))).value ?? "" };
  }

  async function page(
    room: string,
    at: { seq: number; epoch: string },
    limit: number,
  ): Promise<HistoryPage> {
    const { seq, epoch } = at;
    if (limit <= 0 || seq === 0) {
      return { messages: [], seq, epoch, recovered: true };
    }
    const messages = await list(room, Math.max(0, seq - limit), {
      upTo: seq,
    });
    return { messages, seq, epoch, recovered: true };
  }

  async function recent(room: string, limit: number): Promise<HistoryPage> {
    return page(room, await position(room), limit);
  }

  async function since(
    room: string,
    after: number,
    epoch?: string,
  ): Promise<HistoryPage> {
    const at = await position(room);
    const { seq } = at;
    // The client knows a history this store never had: another epoch, or
    // ids past the head (reset or wiped before epochs).
    if (after > seq || (epoch !== undefined && epoch !== at.epoch)) {
      return { ...await page(room, at, historySize), recovered: false };
    }
    if (after === seq) {
      return { messages: [], seq, epoch: at.epoch, recovered: true };
    }
    const messages = await list(room, after, { upTo: seq });
    const recovered = messages.length > 0 && messages[0].id === after + 1;
    return { messages, seq, epoch: at.epoch, recovered };
  }

  function range(
    room: string,
    after: number,
    upTo: number,
  ): Promise<SequencedEvent[]> {
    return list(room, after, { upTo });
  }

  function before(
    room: string,
    id: number,
    limit: number,
  ): Promise<SequencedEvent[]> {
    if (id <= 1 || limit <= 0) return Promise.resolve([]);
    return list(room, 0, { upTo: id - 1, limit, reverse: true });
  }

  async function owner(room: string, id: number): Promise<string | undefined> {
    return (await kv.get<Stored>(msgKey(room, id))).value?.owner;
  }

  return { append, recent, since, range, head, before, owner };
}
