/**
 * Durable room history in Deno KV: a per-room sequence and the last
 * HISTORY_SIZE messages, committed before anyone sees them.
 *
 * @module
 */
import type { SequencedEvent } from "../chat/protocol.ts";
import { SESSION_RETENTION_MS } from "../chat/sessions.ts";
import { KEYS } from "./keys.ts";
import { LruMap } from "./lru_map.ts";
import { copyExtra, type StoredRecord } from "./message_state.ts";
import { chunks, hasCid, type Stored, toMessage } from "./stored_records.ts";

/**
 * A message (or a change to one, message_state.ts) before the store has
 * given it an id. With a `cid` and an `owner` (the hash of its session), the
 * cid is stored beside the message, and a retry of it is found instead of
 * posted again.
 */
export type NewMessage = StoredRecord;

/** An event as {@linkcode HistoryStore.append} left it; `repeat` when its cid was stored before: this is that message, not a new one. */
export type AppendedMessage = SequencedEvent & { repeat?: true };

/** What a joining client is sent: history, the room's head and whether it is complete. */
export interface HistoryPage {
  /** Messages, and on a recovered resume the changes to earlier ones too. */
  messages: SequencedEvent[];
  seq: number;
  /** The stream's epoch; a room without messages has one for its first joiners ({@linkcode EMPTY_EPOCH_TTL_MS}). */
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
  /**
   * Commits messages in one atomic operation (per chunk) and returns them
   * with ids, in order; one whose owner already stored its cid in this room
   * is not stored again but returned as that message, marked `repeat`.
   */
  append(room: string, messages: NewMessage[]): Promise<AppendedMessage[]>;
  /** The last `limit` messages, oldest first, and the room's head. */
  recent(room: string, limit: number): Promise<HistoryPage>;
  /**
   * Every kept message after `after`, oldest first; recovered is false when
   * some are gone, or when `epoch` is not the room's (its ids started over,
   * or `after` > 0 came without one): then the page is the recent history.
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
  /** The room's sequence and epoch (`""` when it has none), read without writing one. */
  stream(room: string): Promise<{ seq: number; epoch: string }>;
}

/** Options for {@linkcode createKvStore}. */
export interface KvStoreOptions {
  historySize: number;
  ttlMs: number;
  /** Rooms whose head this process remembers; the least recently used go first. */
  headCacheSize?: number;
  /** How long a message's cid is kept to recognise a retry; the session retention unless told otherwise. */
  cidTtlMs?: number;
}

/** How long the epoch given to joiners of a room without messages waits for its first message. */
export const EMPTY_EPOCH_TTL_MS = 3_600_000;

/** Rooms whose last written head a store remembers, unless told otherwise. */
export const HEAD_CACHE_SIZE = 1024;

// Deno KV's getMany reads at most this many keys.
const GET_MANY_LIMIT = 10;

/** The head and epoch entries of one room, read or written together. */
interface Position {
  head: Deno.KvEntryMaybe<number>;
  epoch: Deno.KvEntryMaybe<string>;
}

/** A store over a Deno KV handle, safe to share between processes. */
export function createKvStore(
  kv: Deno.Kv,
  options: KvStoreOptions,
): HistoryStore {
  const { historySize, ttlMs } = options;
  const cidTtlMs = options.cidTtlMs ?? SESSION_RETENTION_MS;
  const emptyEpochTtlMs = Math.min(ttlMs, EMPTY_EPOCH_TTL_MS);
  const seqKey = KEYS.head;
  const msgKey = KEYS.message;
  // The last head this process wrote; a stale guess only costs one retry,
  // and a forgotten one one read, so it is bounded (one entry per room ever
  // visited would grow forever).
  const heads = new LruMap<string, Position>(
    options.headCacheSize ?? HEAD_CACHE_SIZE,
  );

  async function readHead(room: string): Promise<Position> {
    const [head, epoch] = await Promise.all([
      kv.get<number>(seqKey(room)),
      kv.get<string>(KEYS.epoch(room)),
    ]);
    const at = { head, epoch };
    heads.set(room, at);
    return at;
  }

  async function getAll<T>(
    keys: Deno.KvKey[],
  ): Promise<Deno.KvEntryMaybe<T>[]> {
    const reads: Promise<Deno.KvEntryMaybe<T>[]>[] = [];
    for (let i = 0; i < keys.length; i += GET_MANY_LIMIT) {
      reads.push(kv.getMany<T[]>(keys.slice(i, i + GET_MANY_LIMIT)));
    }
    return (await Promise.all(reads)).flat();
  }

  /** Finds which of `todo` were stored before under their cid, and fills `out` with those messages. */
  async function findRepeats(
    room: string,
    messages: NewMessage[],
    todo: number[],
    out: (AppendedMessage | undefined)[],
  ): Promise<void> {
    const asked = todo.filter((i) => hasCid(messages[i]));
    if (asked.length === 0) return;
    const ids = await getAll<number>(asked.map((i) => {
      const m = messages[i] as NewMessage & { cid: string; owner: string };
      return KEYS.cid(room, m.owner, m.cid);
    }));
    const found: [number, number][] = [];
    asked.forEach((index, k) => {
      const id = ids[k].value;
      if (typeof id === "number") found.push([index, id]);
    });
    const stored = await getAll<Stored>(
      found.map(([, id]) => msgKey(room, id)),
    );
    found.forEach(([index, id], k) => {
      // Trimmed since: the retry's own text stands in for it.
      const m = messages[index];
      const value = stored[k].value ??
        { nickname: m.nickname, text: m.text, ts: m.ts, cid: m.cid };
      out[index] = { ...toMessage(id, value), repeat: true };
    });
  }

  async function appendChunk(
    room: string,
    messages: NewMessage[],
  ): Promise<AppendedMessage[]> {
    const out: (AppendedMessage | undefined)[] = new Array(messages.length);
    // The same cid twice in one chunk is stored once.
    const twins = new Map<number, number>();
    const firstByCid = new Map<string, number>();
    messages.forEach((m, i) => {
      if (!hasCid(m)) return;
      const key = JSON.stringify([m.owner, m.cid]);
      const first = firstByCid.get(key);
      if (first === undefined) firstByCid.set(key, i);
      else twins.set(i, first);
    });
    let at = heads.get(room) ?? await readHead(room);
    for (let attempt = 0;; attempt++) {
      const todo: number[] = [];
      for (let i = 0; i < messages.length; i++) {
        if (out[i] === undefined && !twins.has(i)) todo.push(i);
      }
      if (todo.length === 0) break;
      const head = at.head.value ?? 0;
      const next = head + todo.length;
      // A new head starts a new stream: ids from 1 again, under a new epoch,
      // or the one its first joiners were given (see position). Head and
      // epoch live as long as the newest message and expire together, so a
      // silent room leaves nothing behind and comes back as a new stream.
      const epoch = at.epoch.value ?? newEpoch();
      let op = kv.atomic().check(at.head, at.epoch)
        .set(seqKey(room), next, { expireIn: ttlMs })
        .set(KEYS.epoch(room), epoch, { expireIn: ttlMs });
      const made: SequencedEvent[] = [];
      todo.forEach((index, k) => {
        const m = messages[index];
        const id = head + 1 + k;
        const value: Stored = { nickname: m.nickname, text: m.text, ts: m.ts };
        if (m.cid !== undefined) value.cid = m.cid;
        copyExtra(m, value);
        op = op.set(msgKey(room, id), value, { expireIn: ttlMs });
        if (hasCid(m)) {
          // In the same commit as the message: a crash leaves both or neither.
          const key = KEYS.cid(room, m.owner, m.cid);
          op = op.check({ key, versionstamp: null })
            .set(key, id, { expireIn: cidTtlMs });
        }
        made.push(toMessage(id, value));
      });
      // Trim what falls out of the window: ids (head - size, next - size].
      const from = Math.max(1, head - historySize + 1);
      for (let id = from; id <= next - historySize; id++) {
        op = op.delete(msgKey(room, id));
      }
      const result = await op.commit();
      if (result.ok) {
        const { versionstamp } = result;
        heads.set(room, {
          head: { key: seqKey(room), value: next, versionstamp },
          epoch: { key: KEYS.epoch(room), value: epoch, versionstamp },
        });
        todo.forEach((index, k) => out[index] = made[k]);
        break;
      }
      if (attempt >= 50) {
        throw new Error(`Cannot append to room "${room}": too much contention`);
      }
      // Another instance moved the head, or a retry's cid is stored already.
      at = await readHead(room);
      await findRepeats(room, messages, todo, out);
    }
    for (const [twin, first] of twins) {
      out[twin] = { ...out[first]!, repeat: true };
    }
    return out as AppendedMessage[];
  }

  async function append(
    room: string,
    messages: NewMessage[],
  ): Promise<AppendedMessage[]> {
    const out: AppendedMessage[] = [];
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
    return (await readHead(room)).head.value ?? 0;
  }

  async function stream(
    room: string,
  ): Promise<{ seq: number; epoch: string }> {
    const at = await readHead(room);
    return { seq: at.head.value ?? 0, epoch: at.epoch.value ?? "" };
  }

  // The head and its epoch, read together. A head without an epoch (stored
  // before epochs, or imported without one) gets one now; so does a room
  // without messages, for a while, so that a page joining it before its
  // first message can resume exactly: the first commit keeps that epoch.
  async function position(
    room: string,
  ): Promise<{ seq: number; epoch: string }> {
    const at = await readHead(room);
    const seq = at.head.value ?? 0;
    if (at.epoch.value !== null) return { seq, epoch: at.epoch.value };
    const made = newEpoch();
    // Briefly for an empty room: visiting rooms must not fill the store.
    const expireIn = seq === 0 ? emptyEpochTtlMs : ttlMs;
    const result = await kv.atomic().check(at.epoch)
      .set(KEYS.epoch(room), made, { expireIn }).commit();
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
    // ids past the head (reset or wiped before epochs). Ids without an epoch
    // (a page that joined before the room's first message) may be another
    // stream's too: the client starts over rather than drop new ids.
    if (after > seq || (after > 0 && epoch !== at.epoch)) {
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

  return { append, recent, since, range, head, stream, before, owner };
}
