/**
 * One room's pipeline. Every event takes these steps, in this order, and
 * the file reads top to bottom in the same order:
 *
 * 1. accept: a member's frame passes its session's policy and is queued
 *    ({@linkcode Room.accept}, intake.ts); other instances' events are queued
 *    ({@linkcode Room.receive}); confirmed sockets wait to join
 *    ({@linkcode Room.join}).
 * 2. schedule: one flush at a time per room, on the next microtask (or
 *    after BATCH_MS), so whatever piles up meanwhile leaves together.
 * 3. start: on the first flush, the sequencer starts at the store's head
 *    and presence is seeded from the other instances' leases.
 * 4. commit: new messages, and changes to earlier ones once checked
 *    (room_events.ts), get their ids in one KV commit, before anyone sees them.
 * 5. sequence: messages in id order, each once, holes filled from KV.
 * 6. count: joiners are counted in presence (a join event, a lease).
 * 7. fan out: the flush's events leave as one frame to every member.
 * 8. publish: what this instance produced crosses the bus.
 * 9. welcome: each joiner gets its history and the user list, then the
 *    frames it sent meanwhile are accepted.
 *
 * Leaving runs the other way: {@linkcode Room.leave} queues a leave event
 * and a bus notice, and the next flush sends them.
 *
 * @module
 */
import { errorText } from "../app/log.ts";
import { recordBusLag, tracedCommit } from "../app/telemetry.ts";
import type { BusEvent } from "../cluster/bus.ts";
import type { HistoryPage } from "../storage/history.ts";
import { latestPage, resumePage } from "../storage/message_state.ts";
import {
  type Connection,
  type ConnectionState,
  MemberList,
} from "./connection.ts";
import { RoomPresence } from "./presence.ts";
import type { RoomContext } from "./room_context.ts";
import { confirmRepeats, intake } from "./intake.ts";
import {
  type ClientRequest,
  CLOSE,
  encodeWelcome,
  encodeWelcomeShared,
  errorFrame,
  isSequenced,
  type RoomEvent,
  type SequencedEvent,
} from "./protocol.ts";
import { RoomChanges } from "./room_events.ts";
import { Sequencer } from "./sequencer.ts";
import { afterWelcome } from "../moderation/gate.ts";

/** One room on this instance: its members and the pipeline their events take. */
export class Room {
  readonly name: string;
  /** Welcomed connections, which get the fan-out. */
  readonly members = new MemberList();
  readonly presence: RoomPresence;
  #ctx: RoomContext;
  #sequencer: Sequencer;
  /** Events waiting for the next flush. */
  #queue: RoomEvent[] = [];
  /** Who sent each message still waiting for its id, to tell them if storing fails. */
  #senders = new Map<SequencedEvent, Connection>();
  #changes: RoomChanges;
  /** Connections waiting for the next flush to count and welcome them. */
  #joins: Connection[] = [];
  /** This instance's typing and leave notices waiting to cross the bus. */
  #outgoing: BusEvent[] = [];
  #scheduled = false;
  #flushing = false;
  #starting: Promise<void> | undefined;
  /** Connections attached here in any state; the room is kept while any are. */
  #attached = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(name: string, ctx: RoomContext) {
    this.name = name;
    this.#ctx = ctx;
    this.presence = new RoomPresence({
      instance: ctx.instance,
      ttlMs: ctx.settings.presenceTtlMs,
      now: ctx.now,
    });
    this.#sequencer = new Sequencer({
      readRange: (after, upTo) => ctx.history.range(name, after, upTo),
      now: ctx.now,
    });
    this.#changes = new RoomChanges(name, ctx);
  }

  // ---- 1. accept ----
  /** Takes one frame from a member; what passes its policy is queued (intake.ts). */
  accept(member: Connection, request: ClientRequest): void {
    const event = intake(member, request, {
      room: this.name,
      now: this.#ctx.now(),
      maxMessageChars: this.#ctx.settings.maxMessageChars,
      addresses: this.#ctx.addressMessages,
    });
    if (!event) return;
    this.#queue.push(event);
    if (event.type === "typing") this.#outgoing.push(event);
    else this.#senders.set(event, member);
    this.#schedule();
  }

  /** Takes events another instance published for this room. */
  receive(events: Iterable<BusEvent>, origin: string): void {
    const now = this.#ctx.now();
    for (const event of events) {
      if (isSequenced(event)) {
        recordBusLag(now - event.ts);
        if (this.#sequencer.wants(event.id)) this.#queue.push(event);
      } else if (event.type === "typing") {
        this.#queue.push({ type: "typing", nickname: event.nickname });
      } else if (event.type === "join") {
        if (this.presence.remoteJoin(event.sid, event.nickname, origin)) {
          this.#queue.push({ type: "join", nickname: event.nickname, ts: now });
        }
      } else if (event.type === "leave") {
        const nickname = this.presence.remoteLeave(event.sid, origin);
        if (nickname !== undefined) {
          this.#queue.push({ type: "leave", nickname, ts: now });
        }
      }
    }
    this.#schedule();
  }

  /** Counts a new connection for this room, from its upgrade on. */
  attach(): void {
    this.#attached++;
  }

  /** Queues a connection whose nickname is confirmed; the next flush welcomes it. */
  join(member: Connection): void {
    member.advance("queued");
    this.#joins.push(member);
    this.#schedule();
  }

  /** Takes out a connection that is gone; the last socket of a user announces the leave. */
  leave(member: Connection, previous: ConnectionState): void {
    this.#attached--;
    if (previous === "joined") this.members.remove(member);
    if (previous === "joined" || previous === "counted") {
      const left = this.presence.removeLocal(member.session.sid);
      if (left?.lastHere && !this.#ctx.closing()) {
        const ts = this.#ctx.now();
        const { nickname } = left;
        if (left.left) this.#queue.push({ type: "leave", nickname, ts });
        this.#outgoing.push({
          type: "leave",
          nickname,
          sid: member.session.sid,
          ts,
        });
        this.#schedule();
      }
    }
    this.#releaseIfIdle();
  }

  /** Reconciles presence with the live leases of every instance. */
  reconcile(leases: Parameters<RoomPresence["reconcile"]>[0]): void {
    const { joined, left } = this.presence.reconcile(leases);
    const ts = this.#ctx.now();
    for (const nickname of joined) {
      this.#queue.push({ type: "join", nickname, ts });
    }
    for (const nickname of left) {
      this.#queue.push({ type: "leave", nickname, ts });
    }
    if (this.#queue.length > 0) this.#schedule();
  }

  /** Catches up on messages other instances committed, up to the store's `head`. */
  catchUp(head: number): void {
    this.#sequencer.catchUp(head);
    if (this.#sequencer.behind) this.#schedule();
  }

  /** Whether the room has started (read its head from the store). */
  get started(): boolean {
    return this.#sequencer.started;
  }

  /** Stops the room's timer (shutdown). */
  stop(): void {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
  }

  // ---- 2. schedule ----
  #schedule(): void {
    if (this.#scheduled || this.#flushing) return;
    this.#scheduled = true;
    // A microtask adds no latency under light load; under heavy load events
    // pile up while the KV commit is in flight and leave as one frame.
    const { batchMs } = this.#ctx.settings;
    if (batchMs > 0) setTimeout(() => this.#flush(), batchMs);
    else queueMicrotask(() => this.#flush());
  }

  #pending(): boolean {
    return this.#queue.length > 0 || this.#joins.length > 0 ||
      this.#outgoing.length > 0 || this.#sequencer.behind;
  }

  async #flush(): Promise<void> {
    this.#scheduled = false;
    if (this.#flushing) return;
    this.#flushing = true;
    let joins: Connection[] = [];
    try {
      this.#starting ??= this.#start();
      await this.#starting;
      while (this.#pending()) {
        const queued = this.#queue;
        this.#queue = [];
        joins = this.#joins;
        this.#joins = [];
        const published: BusEvent[] = await this.#commit(queued);
        const events = await this.#sequence(queued);
        const joined = await this.#count(joins, events, published);
        if (events.length > 0) this.#fanOut(events);
        await this.#publish(published);
        if (joined.length > 0) await this.#welcome(joined);
        joins = [];
      }
    } catch (err) {
      this.#ctx.log("Flush failed: its joiners are closed to retry", {
        room: this.name,
        error: errorText(err),
      });
      // A failed start (KV down) must be retried, not remembered.
      if (!this.#sequencer.started) this.#starting = undefined;
      // Joiners left without a welcome would wait forever; 1011 makes the
      // client reconnect and resume with since.
      for (const member of [...joins, ...this.#joins]) {
        if (member.state !== "joined") {
          member.close(CLOSE.INTERNAL, "Internal error: reconnect");
        }
      }
      this.#joins = [];
    } finally {
      this.#flushing = false;
      if (this.#pending()) this.#schedule();
      else this.#releaseIfIdle();
    }
  }

  // ---- 3. start ----
  async #start(): Promise<void> {
    const head = await this.#ctx.history.head(this.name);
    const leases = await this.#ctx.leases.list(this.name);
    // Last: a room whose start failed is not started, and starts again.
    this.#sequencer.start(head);
    this.presence.seed(leases);
  }

  // ---- 4. commit ----
  /** Stores the flush's new messages; returns them with ids, and drops (and reports) any that failed. */
  async #commit(events: RoomEvent[]): Promise<SequencedEvent[]> {
    const fresh: SequencedEvent[] = [];
    for (const event of events) {
      if (isSequenced(event) && event.id === 0) fresh.push(event);
    }
    if (fresh.length === 0) return fresh;
    try {
      const records = await this.#changes.admit(fresh, events, this.#senders);
      // A message's cid is stored beside it under its session's hash, so a
      // retry is found in KV even by another process or another instance.
      const stored = await tracedCommit(
        { room: this.name, messages: fresh.length },
        () => this.#ctx.history.append(this.name, records),
      );
      const repeats = confirmRepeats(fresh, stored, this.#senders);
      for (let i = 0; i < fresh.length; i++) fresh[i].id = stored[i].id;
      this.#changes.committed(fresh, this.#senders);
      for (const message of fresh) this.#senders.delete(message);
      this.#restartIfReset(fresh, repeats);
      if (repeats.size === 0) return fresh;
      const kept = events.filter((e) => !repeats.has(e as SequencedEvent));
      events.length = 0;
      events.push(...kept);
      return fresh.filter((m) => !repeats.has(m));
    } catch (err) {
      this.#ctx.log("Storing messages failed: senders are told", {
        room: this.name,
        count: fresh.length,
        error: err instanceof Error ? err.message : String(err),
      });
      for (const message of fresh) {
        const sender = this.#senders.get(message);
        this.#senders.delete(message);
        if (!sender) continue;
        if (message.type === "message" && message.cid !== undefined) {
          sender.session.policy.forget(message.cid);
        }
        sender.send(
          errorFrame("internal", "Message not stored: please send it again"),
        );
      }
      const kept = events.filter((e) => !(isSequenced(e) && e.id === 0));
      events.length = 0;
      events.push(...kept);
      return [];
    }
  }

  /**
   * New ids at or below what was handed out mean the stream started over
   * (its head expired with its last message, or the store was replaced):
   * the sequencer starts again below them, and members, whose pages hold
   * the old ids, reconnect and are told (recovered:false, a new epoch).
   */
  #restartIfReset(
    fresh: SequencedEvent[],
    repeats: Set<SequencedEvent>,
  ): void {
    const first = fresh.find((m) => !repeats.has(m));
    if (!first || first.id > this.#sequencer.delivered) return;
    this.#ctx.log("Room stream started over: members reconnect", {
      room: this.name,
      delivered: this.#sequencer.delivered,
      id: first.id,
    }, { level: "warning" });
    this.#sequencer.start(first.id - 1);
    for (const member of [...this.members.list]) {
      member.close(CLOSE.RESTART, "Room history started over: reconnect");
    }
  }

  // ---- 5. sequence ----
  async #sequence(events: RoomEvent[]): Promise<RoomEvent[]> {
    const ordered = await this.#sequencer.order(events);
    if (ordered.skipped) {
      this.#ctx.log("Messages lost between instances: skipping them", {
        room: this.name,
        ...ordered.skipped,
      }, { level: "warning" });
    }
    if (ordered.retryInMs !== undefined && this.#retryTimer === undefined) {
      this.#retryTimer = setTimeout(() => {
        this.#retryTimer = undefined;
        if (this.#ctx.closing()) return;
        this.#sequencer.retry();
        this.#schedule();
      }, ordered.retryInMs);
    }
    return ordered.events;
  }

  // ---- 6. count ----
  /** Counts this flush's joiners in presence; a user's first socket here adds a join event and a lease. */
  async #count(
    joins: Connection[],
    events: RoomEvent[],
    published: BusEvent[],
  ): Promise<Connection[]> {
    const joined: Connection[] = [];
    const ts = this.#ctx.now();
    for (const member of joins) {
      if (member.state !== "queued") continue;
      member.advance("counted");
      const { sid, nickname } = member.session;
      const added = this.presence.addLocal(sid, nickname);
      if (added.firstHere) {
        await this.#ctx.leases.put([{ room: this.name, sid, nickname }]);
        published.push({ type: "join", nickname, sid, ts });
        if (added.joined) events.push({ type: "join", nickname, ts });
      }
      joined.push(member);
    }
    return joined;
  }

  // ---- 7. fan out ----
  #fanOut(events: RoomEvent[]): void {
    this.#ctx.fanout.send(this.members.list, events);
  }

  // ---- 8. publish ----
  async #publish(published: BusEvent[]): Promise<void> {
    if (this.#outgoing.length > 0) {
      const out = this.#outgoing;
      this.#outgoing = [];
      for (const event of out) {
        // The lease goes before the notice, so no sweep elsewhere revives it.
        if (event.type === "leave") {
          await this.#ctx.leases.remove(this.name, event.sid);
        }
        published.push(event);
      }
    }
    if (published.length > 0) {
      this.#ctx.bus.publish({
        origin: this.#ctx.instance,
        room: this.name,
        events: published,
      });
    }
  }

  // ---- 9. welcome ----
  async #welcome(joined: Connection[]): Promise<void> {
    // Everyone joining in one flush sees the same room: sort the list once,
    // and serialise the shared recent history once, not per joiner.
    let recent: HistoryPage | undefined;
    let recentShared: string | undefined;
    let users: string[] | undefined;
    for (const member of joined) {
      let page: HistoryPage;
      if (member.since === undefined) {
        page = recent ??= await latestPage(
          this.#ctx.history,
          this.name,
          this.#ctx.settings.historyOnJoin,
        );
      } else {
        const { since, epoch } = member;
        page = await resumePage(this.#ctx.history, this.name, { since, epoch });
      }
      if (page.seq > this.#sequencer.delivered) {
        // Another instance committed more than has reached us: bring the
        // members up to what this joiner's history shows, so nobody misses
        // a message and the joiner gets none twice.
        this.#sequencer.catchUp(page.seq);
        const caught = await this.#sequence([]);
        if (caught.length > 0) this.#fanOut(caught);
      }
      if (member.state !== "counted") continue;
      users ??= this.presence.nicknames();
      const shared = (p: HistoryPage) =>
        encodeWelcomeShared({
          users: users!,
          history: p.messages,
          seq: p.seq,
          epoch: p.epoch,
          recovered: p.recovered,
        });
      const part = page === recent
        ? recentShared ??= shared(page)
        : shared(page);
      member.advance("joined");
      this.members.add(member);
      member.send(encodeWelcome(
        { nickname: member.session.nickname, room: this.name },
        part,
      ));
      afterWelcome(member);
      for (const request of member.takeHeld()) this.accept(member, request);
    }
  }

  #releaseIfIdle(): void {
    if (
      this.#attached === 0 && this.presence.localSize === 0 &&
      this.#queue.length === 0 && this.#joins.length === 0 &&
      this.#outgoing.length === 0 && !this.#flushing && !this.#scheduled &&
      this.#retryTimer === undefined
    ) this.#ctx.onIdle(this);
  }
}
