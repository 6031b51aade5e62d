/**
 * Durable room history in Deno KV: a per-room sequence and the last
 * HISTORY_SIZE messages, committed before anyone sees them.
 *
 * @module
 */
import type { ChatMessage } from "../chat/protocol.ts";
import { KEYS } from "./keys.ts";
import { LruMap } from "./lru_map.ts";

/** A message before the store has given it an id. */
export type NewMessage = Omit<ChatMessage, "id" | "type">;

/** What a joining client is sent: history, the room's head and whether it is complete. */
export interface HistoryPage {
  messages: ChatMessage[];
  seq: number;
  recovered: boolean;
}

/** Storage of room histories. */
export interface HistoryStore {
  /** Commits messages in one atomic operation (per chunk) and returns them with ids. */
  append(room: string, messages: NewMessage[]): Promise<ChatMessage[]>;
  /** The last `limit` messages, oldest first, and the room's head. */
  recent(room: string, limit: number): Promise<HistoryPage>;
  /** Every kept message after `after`, oldest first; recovered is false when some are gone. */
  since(room: string, after: number): Promise<HistoryPage>;
  /** Messages with ids in (after, upTo], oldest first. */
  range(room: string, after: number, upTo: number): Promise<ChatMessage[]>;
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

interface Stored {
  nickname: string;
  text: string;
  ts: number;
  cid?: string;
}

// Deno KV caps an atomic operation at 1000 mutations and 800 KB in all.
const MAX_CHUNK_MESSAGES = 400;
const MAX_CHUNK_BYTES = 500_000;

function toMessage(id: number, value: Stored): ChatMessage {
  const msg: ChatMessage = {
    type: "message",
    id,
    nickname: value.nickname,
    text: value.text,
    ts: value.ts,
  };
  if (value.cid !== undefined) msg.cid = value.cid;
  return msg;
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
  ): Promise<ChatMessage[]> {
    let entry = heads.get(room) ?? await readHead(room);
    for (let attempt = 0;; attempt++) {
      const head = entry.value ?? 0;
      const next = head + messages.length;
      let op = kv.atomic().check(entry).set(seqKey(room), next);
      const out: ChatMessage[] = [];
      messages.forEach((m, i) => {
        const id = head + 1 + i;
        const value: Stored = { nickname: m.nickname, text: m.text, ts: m.ts };
        if (m.cid !== undefined) value.cid = m.cid;
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
  ): Promise<ChatMessage[]> {
    const out: ChatMessage[] = [];
    for (const chunk of chunks(messages)) {
      out.push(...await appendChunk(room, chunk));
    }
    return out;
  }

  async function list(
    room: string,
    after: number,
    options: { limit?: number; reverse?: boolean; upTo?: number } = {},
  ): Promise<ChatMessage[]> {
    const out: ChatMessage[] = [];
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

  async function recent(room: string, limit: number): Promise<HistoryPage> {
    const seq = await head(room);
    if (limit <= 0 || seq === 0) return { messages: [], seq, recovered: true };
    const messages = await list(room, Math.max(0, seq - limit), {
      upTo: seq,
    });
    return { messages, seq, recovered: true };
  }

  async function since(room: string, after: number): Promise<HistoryPage> {
    const seq = await head(room);
    if (after > seq) {
      // The client knows a history this store never had (reset or wiped).
      const page = await recent(room, historySize);
      return { ...page, recovered: false };
    }
    if (after === seq) return { messages: [], seq, recovered: true };
    const messages = await list(room, after, { upTo: seq });
    const recovered = messages.length > 0 && messages[0].id === after + 1;
    return { messages, seq, recovered };
  }

  function range(
    room: string,
    after: number,
    upTo: number,
  ): Promise<ChatMessage[]> {
    return list(room, after, { upTo });
  }

  return { append, recent, since, range, head };
}
