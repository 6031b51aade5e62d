/**
 * Messages in their latest state. Edits, deletions and reactions are
 * events in the room's sequence, stored like messages; what history serves
 * (the welcome, scrollback) folds them into the messages they change. A
 * window of stored events folds on its own: every change comes after its
 * message, so a message in the window has all its changes there too, and a
 * change whose message fell out of the window is dropped with it.
 *
 * @module
 */
import type {
  ChatMessage,
  DeletedBy,
  ReplySnippet,
  SequencedEvent,
} from "../chat/protocol.ts";
import type { HistoryPage, HistoryStore } from "./history.ts";
import {
  dropReactors,
  reactionOwner,
  setReactionOwner,
  toggleReaction,
} from "./reactions.ts";

export {
  cloneMessage,
  hasReacted,
  reactionOwner,
  reactionsFull,
  setReactionOwner,
} from "./reactions.ts";

/** Longest quote of the original a reply carries, in code points. */
export const SNIPPET_CHARS = 100;

/** What a stored record holds besides a message's nickname, text, ts and cid. */
export interface StoredExtra {
  /** What change the record is; absent for a message. */
  kind?: "edit" | "delete" | "reaction";
  target?: number;
  emoji?: string;
  on?: boolean;
  by?: DeletedBy;
  replyTo?: number;
  reply?: ReplySnippet;
  /** A hash of the author's session key, to check who may change it; never sent. */
  owner?: string;
}

/** A record as the store takes it: the fields of a message plus {@linkcode StoredExtra}. */
export interface StoredRecord extends StoredExtra {
  nickname: string;
  text: string;
  ts: number;
  cid?: string;
}

const EXTRA_KEYS = [
  "kind",
  "target",
  "emoji",
  "on",
  "by",
  "replyTo",
  "reply",
  "owner",
] as const;

/** Copies the extra fields of `from` that are set onto `to`. */
export function copyExtra(from: StoredExtra, to: StoredExtra): void {
  for (const key of EXTRA_KEYS) {
    // deno-lint-ignore no-explicit-any -- one field copied to its own key
    if (from[key] !== undefined) (to as any)[key] = from[key];
  }
}

/** The record to store for a new event; `owner` is kept with messages and reactions. */
export function toRecord(event: SequencedEvent, owner?: string): StoredRecord {
  const { ts } = event;
  switch (event.type) {
    case "message": {
      const record: StoredRecord = {
        nickname: event.nickname,
        text: event.text,
        ts,
      };
      if (event.cid !== undefined) record.cid = event.cid;
      if (event.replyTo !== undefined) record.replyTo = event.replyTo;
      if (event.reply !== undefined) record.reply = event.reply;
      if (owner !== undefined) record.owner = owner;
      return record;
    }
    case "edit": {
      const record: StoredRecord = {
        nickname: event.nickname,
        text: event.text,
        ts,
        kind: "edit",
        target: event.target,
      };
      if (event.cid !== undefined) record.cid = event.cid;
      return record;
    }
    case "delete":
      return {
        nickname: "",
        text: "",
        ts,
        kind: "delete",
        target: event.target,
        by: event.by,
      };
    case "reaction": {
      const record: StoredRecord = {
        nickname: event.nickname,
        text: "",
        ts,
        kind: "reaction",
        target: event.target,
        emoji: event.emoji,
        on: event.on,
      };
      const by = owner ?? reactionOwner(event);
      if (by !== undefined) record.owner = by;
      return record;
    }
  }
}

/** The event a stored record is, from the message `toMessage` made of its common fields. */
export function eventFromRecord(
  message: ChatMessage,
  record: StoredExtra,
): SequencedEvent {
  const { id, ts, nickname, text } = message;
  const target = record.target ?? 0;
  if (record.kind === "edit") {
    const edit: SequencedEvent = {
      type: "edit",
      id,
      ts,
      target,
      text,
      nickname,
    };
    if (message.cid !== undefined) edit.cid = message.cid;
    return edit;
  }
  if (record.kind === "delete") {
    return { type: "delete", id, ts, target, by: record.by ?? "author" };
  }
  if (record.kind === "reaction") {
    const emoji = record.emoji ?? "";
    const reaction: SequencedEvent = {
      type: "reaction",
      id,
      ts,
      target,
      emoji,
      nickname,
      on: !!record.on,
    };
    if (record.owner !== undefined) setReactionOwner(reaction, record.owner);
    return reaction;
  }
  if (record.replyTo !== undefined) message.replyTo = record.replyTo;
  if (record.reply !== undefined) message.reply = { ...record.reply };
  return message;
}

/** The start of `text` a reply quotes. */
export function snippet(text: string): string {
  if (text.length <= SNIPPET_CHARS) return text;
  return Array.from(text).slice(0, SNIPPET_CHARS).join("");
}

/**
 * Applies one event to the messages it may change, in place. The rules
 * are the page's: a change to a message not there, or deleted, is ignored,
 * and so is a reaction past {@linkcode MAX_REACTIONS_PER_MESSAGE}.
 */
export function applyEvent(
  messages: Map<number, ChatMessage>,
  event: SequencedEvent,
): void {
  if (event.type === "message") {
    if (messages.has(event.id)) return;
    // A copy, so folding never changes the events it was given.
    const copy = { ...event };
    if (event.reply) copy.reply = { ...event.reply };
    if (event.reactions) copy.reactions = structuredClone(event.reactions);
    messages.set(event.id, copy);
    return;
  }
  const target = messages.get(event.target);
  if (!target || target.deleted) return;
  if (event.type === "edit") {
    target.text = event.text;
    target.edited = true;
  } else if (event.type === "delete") {
    target.text = "";
    target.deleted = true;
    target.deletedBy = event.by;
    delete target.edited;
    delete target.reactions;
    dropReactors(target);
    delete target.reply;
  } else {
    toggleReaction(target, event);
  }
}

/** Folds a run of stored events (oldest first) into its messages, each in its latest state. */
export function foldEvents(events: readonly SequencedEvent[]): ChatMessage[] {
  const messages = new Map<number, ChatMessage>();
  for (const event of events) applyEvent(messages, event);
  // A quote follows its original: edited, or emptied once deleted.
  for (const message of messages.values()) {
    const original = message.reply && messages.get(message.reply.id);
    if (original) message.reply!.text = snippet(original.text);
  }
  return [...messages.values()];
}

/** A page of messages in their latest state, and whether it reaches the start of stored history. */
export interface FoldedPage {
  messages: ChatMessage[];
  /** True when no older message is stored. */
  start: boolean;
  seq: number;
  epoch: string;
}

/**
 * The `limit` newest messages with ids below `before` (all when omitted),
 * in their latest state. Events are read back from the head until the page
 * is full, since a message's changes may come at any time after it.
 */
export async function foldedPage(
  history: HistoryStore,
  room: string,
  options: { before?: number; limit: number; joining?: boolean },
): Promise<FoldedPage> {
  const before = options.before ?? Infinity;
  const { limit } = options;
  // Only a joiner gets an empty room its first epoch: reading a room's
  // pages (scrollback, by anyone, for any name) must write nothing.
  const { seq, epoch } = options.joining
    ? await history.recent(room, 0)
    : await history.stream(room);
  // A little more than the page: most of a window is messages.
  const batch = Math.max(Math.ceil(limit * 1.25), 32);
  let events: SequencedEvent[] = [];
  let lowest = seq + 1;
  let start = seq === 0 || limit <= 0;
  let found = 0;
  while (!start && found < limit) {
    const older = await history.before(room, lowest, batch);
    if (older.length < batch) start = true;
    if (older.length === 0) break;
    events = older.concat(events);
    lowest = older[0].id;
    for (const e of older) if (e.type === "message" && e.id < before) found++;
  }
  const all = foldEvents(events).filter((m) => m.id < before);
  const messages = limit > 0 ? all.slice(-limit) : [];
  return {
    messages,
    start: start && messages.length === all.length,
    seq,
    epoch,
  };
}

/** The welcome's history for a fresh join: the last `limit` messages in their latest state. */
export async function latestPage(
  history: HistoryStore,
  room: string,
  limit: number,
): Promise<HistoryPage> {
  const { messages, seq, epoch } = await foldedPage(history, room, {
    limit,
    joining: true,
  });
  return { messages, seq, epoch, recovered: true };
}

/**
 * The welcome's history for a resume: every event after `since`, so the
 * page applies the changes it missed; when the store cannot recover that,
 * the recent messages folded, as for a fresh join.
 */
export async function resumePage(
  history: HistoryStore,
  room: string,
  at: { since: number; epoch?: string },
): Promise<HistoryPage> {
  const page = await history.since(room, at.since, at.epoch);
  if (page.recovered) return page;
  return { ...page, messages: foldEvents(page.messages) };
}

/**
 * The messages of a room's stored window, kept folded to check new changes
 * against (who wrote a message, whether it is deleted, who reacted). It
 * catches up from the store before each check, so it holds what every
 * instance committed, not only what reached this one.
 */
export class MessageStates {
  #messages = new Map<number, ChatMessage>();
  #upTo = -1;

  /** Reads what was committed since the last refresh (the whole window the first time, or when the store went back). */
  async refresh(
    history: HistoryStore,
    room: string,
    windowSize: number,
  ): Promise<void> {
    const head = await history.head(room);
    if (head < this.#upTo || this.#upTo < 0) {
      this.#messages.clear();
      this.#upTo = Math.max(0, head - windowSize);
    }
    if (head > this.#upTo) {
      for (const e of await history.range(room, this.#upTo, head)) {
        applyEvent(this.#messages, e);
      }
      this.#upTo = head;
    }
    // Ids ascend in the map, so what fell out of the window is at its front.
    for (const id of this.#messages.keys()) {
      if (id > head - windowSize) break;
      this.#messages.delete(id);
    }
  }

  /** The message with `id` in its latest state, if it is in the window. */
  get(id: number): ChatMessage | undefined {
    return this.#messages.get(id);
  }
}

const isId = (v: unknown) => Number.isSafeInteger(v) && (v as number) > 0;
const KINDS = new Set(["edit", "delete", "reaction"]);

/** The extra fields of a record as they leave the store (an export), or none. */
export function extraOf(record: StoredExtra): StoredExtra | undefined {
  const extra: StoredExtra = {};
  copyExtra(record, extra);
  return Object.keys(extra).length > 0 ? extra : undefined;
}

/** Checks an imported record's extra fields (kv-import); why they are invalid otherwise. */
export function checkExtra(
  value: unknown,
): { ok: true; extra: StoredExtra } | { ok: false; why: string } {
  const bad = (why: string) => ({ ok: false as const, why });
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return bad("extra must be an object");
  }
  const v = value as Record<string, unknown>;
  for (const key of Object.keys(v)) {
    if (!(EXTRA_KEYS as readonly string[]).includes(key)) {
      return bad(`unknown extra field ${JSON.stringify(key.slice(0, 32))}`);
    }
  }
  const reply = v.reply as Record<string, unknown> | undefined;
  const checks: [boolean, string][] = [
    [v.kind === undefined || KINDS.has(v.kind as string), "kind"],
    [v.target === undefined || isId(v.target), "target"],
    [v.kind === undefined || isId(v.target), "target"],
    [v.emoji === undefined || typeof v.emoji === "string", "emoji"],
    [v.on === undefined || typeof v.on === "boolean", "on"],
    [v.by === undefined || v.by === "author" || v.by === "moderator", "by"],
    [v.replyTo === undefined || isId(v.replyTo), "replyTo"],
    [
      reply === undefined || (typeof reply === "object" && reply !== null &&
        isId(reply.id) && typeof reply.nickname === "string" &&
        typeof reply.text === "string"),
      "reply",
    ],
    [v.owner === undefined || typeof v.owner === "string", "owner"],
  ];
  for (const [ok, field] of checks) {
    if (!ok) return bad(`invalid extra field "${field}"`);
  }
  const extra: StoredExtra = {};
  copyExtra(v as StoredExtra, extra);
  if (extra.reply) {
    const { id, nickname, text } = extra.reply;
    extra.reply = { id, nickname, text };
  }
  return { ok: true, extra };
}
