/**
 * Copying a chat between Deno KV stores as JSON lines: every room's head and
 * its kept messages, the sessions ended by logout, and the moderation state
 * (bans, mutes, room rules, audit log: moderation_backup.ts). Presence and nickname
 * leases are not copied: they expire within seconds and the instances of the
 * target renew their own.
 *
 * Both directions stream: memory stays bounded by one chunk of messages,
 * whatever the size of the chat.
 *
 * @module
 */
import {
  EXPORT_FORMAT,
  EXPORT_VERSION,
  type ExportLine,
  ImportError,
  type MessageLine,
  parseLine,
} from "./export_format.ts";
import { KEYS } from "./keys.ts";
import { copyExtra, extraOf, type StoredExtra } from "./message_state.ts";
import {
  exportModeration,
  importModerationLine,
  type ModerationCounts,
} from "./moderation_backup.ts";

export { EXPORT_FORMAT, type ExportLine, ImportError };

/** What an export wrote. */
export interface ExportSummary {
  rooms: number;
  messages: number;
  revoked: number;
  /** Bans and mutes in force, rooms with rules, audit entries. */
  moderation: ModerationCounts;
}

interface Stored extends StoredExtra {
  nickname: string;
  text: string;
  ts: number;
  cid?: string;
}

/**
 * Writes the chat in `kv` to `write`, one JSON line at a time: a header, then
 * per room its head followed by its messages in id order, then revocations,
 * then the moderation state.
 */
export async function exportKv(
  kv: Deno.Kv,
  write: (line: string) => void | Promise<void>,
): Promise<ExportSummary> {
  const emit = (line: ExportLine) => write(JSON.stringify(line));
  const summary: ExportSummary = {
    rooms: 0,
    messages: 0,
    revoked: 0,
    moderation: { bans: 0, mutes: 0, rooms: 0, audit: 0 },
  };
  const exportedAt = Date.now();
  await emit({
    kind: "header",
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    exportedAt,
  });
  for await (const entry of kv.list<number>({ prefix: KEYS.headPrefix })) {
    const room = entry.key[1];
    if (typeof room !== "string" || typeof entry.value !== "number") continue;
    const head = entry.value;
    const epoch = (await kv.get<string>(KEYS.epoch(room))).value;
    await emit(
      epoch === null
        ? { kind: "room", room, head }
        : { kind: "room", room, head, epoch },
    );
    summary.rooms++;
    // Messages appended while this runs are past `head`: left for a later run.
    const messages = kv.list<Stored>({
      start: KEYS.message(room, 1),
      end: KEYS.message(room, head + 1),
    }, { batchSize: 200 });
    for await (const { key, value } of messages) {
      const line: ExportLine = {
        kind: "message",
        room,
        id: key[2] as number,
        nickname: value.nickname,
        text: value.text,
        ts: value.ts,
      };
      if (value.cid !== undefined) line.cid = value.cid;
      const extra = extraOf(value);
      if (extra) line.extra = extra;
      await emit(line);
      summary.messages++;
    }
  }
  for await (const entry of kv.list({ prefix: KEYS.revokedPrefix })) {
    const sid = entry.key[1];
    if (typeof sid !== "string") continue;
    await emit({ kind: "revoked", sid });
    summary.revoked++;
  }
  summary.moderation = await exportModeration(kv, emit, exportedAt);
  return summary;
}

/** How long what is imported lives in the target. */
export interface ImportOptions {
  /** HISTORY_TTL_DAYS of the target: a message expires this long after it was sent. */
  messageTtlMs: number;
  /** SESSION_MAX_AGE_SECONDS of the target: no cookie outlives it, so no revocation needs to. */
  revocationTtlMs: number;
  /** The clock, for tests. */
  now?: () => number;
}

/** What an import did; re-running the same import writes nothing. */
export interface ImportSummary {
  rooms: number;
  /** Messages written to the target. */
  written: number;
  /** Messages the target already had, or that had expired, or were under its head. */
  skipped: number;
  revoked: number;
  /** Rooms left as they were because the target's history differs: "room: why". */
  conflicts: string[];
  /**
   * Moderation state written, there only when the export carried some:
   * bans, mutes and rules the target had its own of, and ones that ran out, are not
   */
  moderation?: ModerationCounts;
}

/** Which count each moderation line adds to. */
const COUNTED = {
  ban: "bans",
  mute: "mutes",
  room_rules: "rooms",
  audit: "audit",
} as const satisfies Record<string, keyof ModerationCounts>;

// Deno KV allows 100 checks and 1000 mutations per atomic operation.
const CHUNK = 50;
// Deno KV's getMany reads at most 10 keys.
const GET_MANY = 10;

/**
 * Reads an export and merges it into `kv`. A room's head only grows: a room
 * whose target head is past the export's, or whose stored messages differ
 * from the export's, is left alone and reported in `conflicts`. Messages the
 * target already has are skipped, so running it twice writes nothing new.
 */
export async function importKv(
  kv: Deno.Kv,
  lines: AsyncIterable<string>,
  options: ImportOptions,
): Promise<ImportSummary> {
  const now = options.now ?? Date.now;
  const summary: ImportSummary = {
    rooms: 0,
    written: 0,
    skipped: 0,
    revoked: 0,
    conflicts: [],
  };
  let room: RoomImport | undefined;
  let lineNo = 0;
  let sawHeader = false;
  for await (const raw of lines) {
    lineNo++;
    if (raw.trim() === "") continue;
    const line = parseLine(raw, lineNo);
    if (!sawHeader) {
      if (line.kind !== "header") {
        throw new ImportError(
          `Invalid line ${lineNo}: expected the "${EXPORT_FORMAT}" header first`,
        );
      }
      sawHeader = true;
      continue;
    }
    if (line.kind === "header") {
      throw new ImportError(`Invalid line ${lineNo}: a second header`);
    }
    if (line.kind === "room") {
      if (room) await room.finish(summary);
      room = await RoomImport.open(kv, line, { ...options, now });
      summary.rooms++;
    } else if (line.kind === "message") {
      if (!room || room.name !== line.room) {
        throw new ImportError(
          `Invalid line ${lineNo}: message of room "${line.room}" outside its room`,
        );
      }
      await room.add(line, lineNo, summary);
    } else if (line.kind !== "revoked") {
      if (room) await room.finish(summary);
      room = undefined;
      const counts = summary.moderation ??= {
        bans: 0,
        mutes: 0,
        rooms: 0,
        audit: 0,
      };
      if (await importModerationLine(kv, line, now())) {
        counts[COUNTED[line.kind]]++;
      }
    } else {
      if (room) await room.finish(summary);
      room = undefined;
      const result = await kv.atomic()
        .check({ key: KEYS.revoked(line.sid), versionstamp: null })
        .set(KEYS.revoked(line.sid), true, {
          expireIn: options.revocationTtlMs,
        })
        .commit();
      if (result.ok) summary.revoked++;
    }
  }
  if (room) await room.finish(summary);
  if (!sawHeader) {
    throw new ImportError(`Invalid export: no "${EXPORT_FORMAT}" header`);
  }
  return summary;
}

/** One room being imported: its messages gathered in chunks, its head last. */
class RoomImport {
  readonly name: string;
  #kv: Deno.Kv;
  #head: number;
  #epoch: string | undefined;
  #options: Required<ImportOptions>;
  #target: Deno.KvEntryMaybe<number>;
  #pending: MessageLine[] = [];
  #lastId = 0;
  #conflict: string | undefined;

  private constructor(
    kv: Deno.Kv,
    line: { room: string; head: number; epoch?: string },
    state: {
      options: Required<ImportOptions>;
      target: Deno.KvEntryMaybe<number>;
    },
  ) {
    this.#kv = kv;
    this.name = line.room;
    this.#head = line.head;
    this.#epoch = line.epoch;
    this.#options = state.options;
    this.#target = state.target;
    const targetHead = state.target.value ?? 0;
    if (targetHead > line.head) {
      this.#conflict =
        `the target's head ${targetHead} is past the export's ${line.head}`;
    }
  }

  /** Starts a room from its line, reading the target's head. */
  static async open(
    kv: Deno.Kv,
    line: { room: string; head: number; epoch?: string },
    options: Required<ImportOptions>,
  ): Promise<RoomImport> {
    const target = await kv.get<number>(KEYS.head(line.room));
    return new RoomImport(kv, line, { options, target });
  }

  /** Queues one message; ids must grow and stay within the room's head. */
  async add(line: MessageLine, lineNo: number, summary: ImportSummary) {
    if (line.id <= this.#lastId || line.id > this.#head) {
      throw new ImportError(
        `Invalid line ${lineNo}: message id ${line.id} of room "${this.name}" out of order or past its head ${this.#head}`,
      );
    }
    this.#lastId = line.id;
    this.#pending.push(line);
    if (this.#pending.length >= CHUNK) await this.#flush(summary);
  }

  /** Commits what is queued, then moves the head up to the export's. */
  async finish(summary: ImportSummary) {
    await this.#flush(summary);
    if (this.#conflict === undefined) {
      await this.#raiseHead(this.#head);
    }
    if (this.#conflict !== undefined) {
      summary.conflicts.push(`${this.name}: ${this.#conflict}`);
    }
  }

  async #flush(summary: ImportSummary) {
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return;
    if (this.#conflict !== undefined) {
      summary.skipped += batch.length;
      return;
    }
    const targetHead = this.#target.value ?? 0;
    // Under the target's head, a message must be the same or gone (trimmed or
    // expired there); it is never written back below the head.
    const below = batch.filter((m) => m.id <= targetHead);
    for (let i = 0; i < below.length; i += GET_MANY) {
      const part = below.slice(i, i + GET_MANY);
      const found = await this.#kv.getMany<Stored[]>(
        part.map((m) => KEYS.message(this.name, m.id)),
      );
      for (const [j, entry] of found.entries()) {
        if (entry.value !== null && !sameMessage(entry.value, part[j])) {
          this.#conflict = `message ${part[j].id} differs in the target`;
          summary.skipped += batch.length;
          return;
        }
      }
    }
    summary.skipped += below.length;
    const above = batch.filter((m) => m.id > targetHead);
    if (above.length === 0) return;
    const now = this.#options.now();
    let op = this.#kv.atomic().check(this.#target);
    let written = 0;
    for (const m of above) {
      // The same expiry as on the source: HISTORY_TTL_DAYS after it was sent.
      const expireIn = m.ts + this.#options.messageTtlMs - now;
      if (expireIn <= 0) continue;
      const value: Stored = { nickname: m.nickname, text: m.text, ts: m.ts };
      if (m.cid !== undefined) value.cid = m.cid;
      if (m.extra) copyExtra(m.extra, value);
      op = op.set(KEYS.message(this.name, m.id), value, { expireIn });
      written++;
    }
    const top = above[above.length - 1].id;
    op = this.#withEpoch(op).set(KEYS.head(this.name), top);
    if (await this.#commit(op, top)) {
      summary.written += written;
      summary.skipped += above.length - written;
    } else {
      summary.skipped += above.length;
    }
  }

  async #raiseHead(head: number) {
    if ((this.#target.value ?? 0) >= head) return;
    const op = this.#withEpoch(this.#kv.atomic().check(this.#target)).set(
      KEYS.head(this.name),
      head,
    );
    await this.#commit(op, head);
  }

  // A room new to the target keeps the export's epoch, so pages open on the
  // source resume on the target; one merged into an existing head keeps its own.
  #withEpoch(op: Deno.AtomicOperation): Deno.AtomicOperation {
    if (this.#target.versionstamp !== null || this.#epoch === undefined) {
      return op;
    }
    return op.set(KEYS.epoch(this.name), this.#epoch);
  }

  // The head is checked in every commit: if a server on the target appended
  // meanwhile, the room now has its own newer history and is left alone.
  async #commit(op: Deno.AtomicOperation, head: number): Promise<boolean> {
    const result = await op.commit();
    if (result.ok) {
      this.#target = {
        key: KEYS.head(this.name),
        value: head,
        versionstamp: result.versionstamp,
      };
      return true;
    }
    const now = await this.#kv.get<number>(KEYS.head(this.name));
    this.#conflict =
      `the target's head moved to ${now.value} during the import`;
    return false;
  }
}

function sameMessage(stored: Stored, line: MessageLine): boolean {
  return stored.nickname === line.nickname && stored.text === line.text &&
    stored.ts === line.ts && stored.cid === line.cid;
}
