/**
 * One room's delivery order. Ids are the room's sequence in KV, shared by
 * every instance; messages reach an instance out of order (its own commits,
 * the bus, catch-up reads), and each member must see each id once, in
 * order. The sequencer holds what is ahead of a hole, fills holes from the
 * store, and gives up on a hole the store no longer has after a wait.
 *
 * Plain logic over an injected clock and range reader, so it is tested
 * without sockets (tests/sequencer_test.ts).
 *
 * @module
 */
import {
  isSequenced,
  type RoomEvent,
  type SequencedEvent as ChatMessage,
} from "./protocol.ts";

/** How long a hole may wait for a message still on the bus before it is skipped. */
export const GAP_WAIT_MS = 2000;
/** How soon a waiting hole is looked at again. */
export const GAP_RETRY_MS = 25;

/** What {@linkcode Sequencer} needs from its room. */
export interface SequencerOptions {
  /** Committed messages with ids in (after, upTo], oldest first. */
  readRange(after: number, upTo: number): Promise<ChatMessage[]>;
  now(): number;
  /** Overrides {@linkcode GAP_WAIT_MS}. */
  gapWaitMs?: number;
}

/** The outcome of {@linkcode Sequencer.order}. */
export interface Ordered {
  /** The flush's events with its messages in id order, minus any already delivered or still behind a hole. */
  events: RoomEvent[];
  /** A hole is waiting: call {@linkcode Sequencer.retry} after this many ms, then order again. */
  retryInMs?: number;
  /** Ids given up on: lost between instances (the store no longer has them). */
  skipped?: { from: number; to: number };
}

/** Puts a room's messages in id order, exactly once. */
export class Sequencer {
  #readRange: SequencerOptions["readRange"];
  #now: () => number;
  #gapWaitMs: number;
  #started = false;
  /** Every id up to this one has been handed out. */
  #delivered = 0;
  /** The highest head seen elsewhere (KV, a joiner's history) not yet handed out. */
  #target = 0;
  /** Messages past a hole, by id. */
  #ahead = new Map<number, ChatMessage>();
  /** When the current hole was first seen; undefined while there is none. */
  #gapSince: number | undefined;
  /** The head to look for again on {@linkcode Sequencer.retry}. */
  #retryTarget = 0;

  constructor(options: SequencerOptions) {
    this.#readRange = options.readRange;
    this.#now = options.now;
    this.#gapWaitMs = options.gapWaitMs ?? GAP_WAIT_MS;
  }

  /**
   * Starts at the room's head in the store: ids up to it are history, not
   * news. Called again when the stream started over, it forgets the old one.
   */
  start(head: number): void {
    this.#delivered = head;
    this.#started = true;
    this.#target = 0;
    this.#retryTarget = 0;
    this.#ahead.clear();
    this.#gapSince = undefined;
  }

  /** Whether {@linkcode Sequencer.start} has run. */
  get started(): boolean {
    return this.#started;
  }

  /** The last id handed out. */
  get delivered(): number {
    return this.#delivered;
  }

  /** Whether a message with `id` could still be handed out (always, before the start). */
  wants(id: number): boolean {
    return !this.#started || id > this.#delivered;
  }

  /** Notes that the store's head is at least `head`: the next order catches up to it. */
  catchUp(head: number): void {
    if (head > this.#target) this.#target = head;
  }

  /** Whether a head seen elsewhere is ahead of what was handed out. */
  get behind(): boolean {
    return this.#started && this.#target > this.#delivered;
  }

  /** Looks for the waiting hole's messages again on the next order. */
  retry(): void {
    this.catchUp(this.#retryTarget);
  }

  /**
   * Orders one flush's events: messages in id order with none delivered
   * twice and none past a hole; other events keep their place, with the
   * ordered messages where the first message stood.
   */
  async order(events: RoomEvent[]): Promise<Ordered> {
    const messages: ChatMessage[] = [];
    for (const event of events) {
      if (isSequenced(event)) messages.push(event);
    }
    const target = this.#target;
    this.#target = 0;
    // The common case, one instance: this flush continues the sequence.
    if (this.#ahead.size === 0 && target <= this.#delivered) {
      let expect = this.#delivered + 1;
      let inOrder = true;
      for (const m of messages) {
        if (m.id !== expect++) {
          inOrder = false;
          break;
        }
      }
      if (inOrder) {
        if (messages.length > 0) this.#delivered = expect - 1;
        return { events };
      }
    }
    // Several instances: hold what is ahead, fill holes from the store, and
    // hand out only what follows on without a hole.
    for (const m of messages) {
      if (m.id > this.#delivered) this.#ahead.set(m.id, m);
    }
    let top = target;
    for (const id of this.#ahead.keys()) if (id > top) top = id;
    const ordered = this.#takeInOrder();
    if (top > this.#delivered) {
      for (const m of await this.#readRange(this.#delivered, top)) {
        if (m.id > this.#delivered && !this.#ahead.has(m.id)) {
          this.#ahead.set(m.id, m);
        }
      }
      ordered.push(...this.#takeInOrder());
    }
    const result: Ordered = { events: placeMessages(events, ordered) };
    if (this.#ahead.size > 0 || top > this.#delivered) {
      this.#awaitHole(top, result);
    } else this.#gapSince = undefined;
    return result;
  }

  #takeInOrder(): ChatMessage[] {
    const out: ChatMessage[] = [];
    let next = this.#delivered + 1;
    for (let m = this.#ahead.get(next); m; m = this.#ahead.get(next)) {
      out.push(m);
      this.#ahead.delete(next);
      this.#delivered = next++;
    }
    return out;
  }

  /**
   * A hole the store does not have (trimmed) is usually a message still on
   * its way over the bus: wait a little for it, then give up on it so the
   * room does not stall; clients see `recovered:false` on their next resume
   * if they need it.
   */
  #awaitHole(top: number, result: Ordered): void {
    const now = this.#now();
    this.#gapSince ??= now;
    if (now - this.#gapSince > this.#gapWaitMs) {
      let first = top + 1;
      for (const id of this.#ahead.keys()) if (id < first) first = id;
      result.skipped = { from: this.#delivered + 1, to: first - 1 };
      this.#delivered = first - 1;
      this.#gapSince = undefined;
      // What lies past the hole goes out on the next order.
      this.#target = top;
      return;
    }
    this.#retryTarget = top;
    result.retryInMs = GAP_RETRY_MS;
  }
}

/** `events` with its messages replaced by `ordered`, placed where the first message stood. */
function placeMessages(
  events: RoomEvent[],
  ordered: ChatMessage[],
): RoomEvent[] {
  const out: RoomEvent[] = [];
  let placed = false;
  for (const event of events) {
    if (!isSequenced(event)) out.push(event);
    else if (!placed) {
      out.push(...ordered);
      placed = true;
    }
  }
  if (!placed) out.push(...ordered);
  return out;
}
