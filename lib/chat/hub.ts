/**
 * The room map: open sockets register here, and each room's events are
 * committed, serialised once and fanned out to its members.
 *
 * @module
 */
import type { Bus, BusEnvelope, BusEvent } from "../cluster/bus.ts";
import type { Config } from "../app/config.ts";
import {
  ConnectionCounter,
  type ConnectionRefusal,
  TokenBucket,
} from "./limits.ts";
import type { NicknameRegistry } from "../auth/nicknames.ts";
import type { PresenceStore } from "../storage/presence_leases.ts";
import {
  type ChatMessage,
  type ClientRequest,
  CLOSE,
  encodeEvents,
  errorFrame,
  isOversized,
  parseClientFrame,
  type RoomEvent,
  type WelcomeFrame,
} from "./protocol.ts";
import type { HistoryPage, Store } from "../storage/history.ts";

/** A structured log line's sink. */
export type Logger = (
  message: string,
  fields?: Record<string, unknown>,
) => void;

/** What {@linkcode createHub} needs. */
export interface HubOptions {
  config: Config;
  store: Store;
  nicknames: NicknameRegistry;
  /** Shared presence leases; only needed when several instances share a chat. */
  presence?: PresenceStore;
  now?: () => number;
  log?: Logger;
}

/** Who is attaching a socket, checked before the upgrade. */
export interface AttachInfo {
  sid: string;
  nickname: string;
  room: string;
  ip: string;
  /** The last message id the client saw in this room, for loss-free resume. */
  since?: number;
}

/** Counts for /healthz. */
export interface HubStats {
  connections: number;
  users: number;
  rooms: number;
}

const CONNECTING = 0;
const QUEUED = 1;
const COUNTED = 2;
const JOINED = 3;
const GONE = 4;
type MemberState =
  | typeof CONNECTING
  | typeof QUEUED
  | typeof COUNTED
  | typeof JOINED
  | typeof GONE;

// Frames a socket may send before its join is processed; more is abuse.
const MAX_HELD_FRAMES = 32;
// Recent client message ids remembered per session for de-duplication.
const MAX_CIDS = 256;
// How long a hole in a room's sequence may wait for a message still on the
// bus, and how often it is looked at again meanwhile.
const GAP_WAIT_MS = 2000;
const GAP_RETRY_MS = 25;
// A typing event per user per room at most this often.
const TYPING_INTERVAL_MS = 1000;
// A session's bucket and recent cids outlive its sockets this long, so a
// reconnect neither resets the rate limit nor forgets what was posted.
const SESSION_RETENTION_MS = 120_000;

interface Member {
  socket: WebSocket;
  session: SessionState;
  ip: string;
  room: Room;
  since: number | undefined;
  state: MemberState;
  index: number;
  held: ClientRequest[] | undefined;
}

interface RoomUser {
  nickname: string;
  sockets: number;
}

interface PresenceEntry {
  nickname: string;
  /** Instance id → when it last confirmed this user (ms). */
  instances: Map<string, number>;
}

interface Room {
  name: string;
  members: Member[];
  /** Users with sockets on this instance. */
  users: Map<string, RoomUser>;
  /** Users on every instance: what welcome frames and join/leave reflect. */
  presence: Map<string, PresenceEntry>;
  /** Every message up to this id has been sent to the members; -1 before init. */
  delivered: number;
  /** A head seen in KV that is not yet delivered here. */
  catchUpTo: number;
  /** Messages past a hole in the sequence, held until the hole is filled. */
  ahead: Map<number, ChatMessage>;
  /** When the current hole was first seen (0: none). */
  gapSince: number;
  gapTimer: ReturnType<typeof setTimeout> | undefined;
  init: Promise<void> | undefined;
  /** This instance's typing and leave events waiting to cross the bus. */
  localOut: BusEvent[];
  /** (instance, sid) pairs that left recently: stale lease sightings must not revive them. */
  tombstones: Map<string, number>;
  queue: RoomEvent[];
  senders: Map<ChatMessage, Member>;
  joins: Member[];
  scheduled: boolean;
  flushing: boolean;
}

interface SessionState {
  sid: string;
  nickname: string;
  sockets: Set<Member>;
  bucket: TokenBucket;
  strikes: number;
  cids: Map<string, ChatMessage>;
  typingAt: Map<string, number>;
  loggedOut: boolean;
  idleSince: number;
}

/** The room map and everything that fans out through it. */
export class Hub {
  #config: Config;
  #store: Store;
  #nicknames: NicknameRegistry;
  #now: () => number;
  #log: Logger;
  #rooms = new Map<string, Room>();
  #sessions = new Map<string, SessionState>();
  #counter: ConnectionCounter;
  #connections = 0;
  #renewTimer: ReturnType<typeof setInterval>;
  #closing = false;
  #leaseMs: number;
  #bus: Bus | undefined;
  #backlog = new Set<Room>();
  #backlogTimer: ReturnType<typeof setTimeout> | undefined;
  #presence: PresenceStore | undefined;
  #instance: string;

  constructor(options: HubOptions) {
    this.#config = options.config;
    this.#store = options.store;
    this.#nicknames = options.nicknames;
    this.#now = options.now ?? Date.now;
    this.#log = options.log ?? defaultLog;
    this.#presence = options.presence;
    this.#instance = options.config.instanceId;
    this.#counter = new ConnectionCounter({
      maxPerIp: this.#config.maxConnectionsPerIp,
      maxTotal: this.#config.maxConnections,
    });
    const renewMs = this.#config.presenceTtlSeconds * 1000 / 3;
    this.#leaseMs = Math.max(
      this.#config.nickGraceSeconds * 1000,
      this.#config.presenceTtlSeconds * 1000,
    );
    // One shared timer renews every connected session's nickname lease.
    this.#renewTimer = setInterval(() => {
      this.#pruneSessions();
      this.#renewLeases();
      if (this.#presence) this.#sweepPresence();
    }, renewMs);
    Deno.unrefTimer(this.#renewTimer);
  }

  /** Connects this hub to the other instances; their events arrive through {@linkcode Hub.receive}. */
  useBus(bus: Bus): void {
    this.#bus = bus;
    for (const room of this.#rooms.keys()) bus.watch(room);
  }

  /** Takes an envelope from another instance and delivers it to this instance's members. */
  receive(envelope: BusEnvelope): void {
    if (this.#closing) return;
    const room = this.#rooms.get(envelope.room);
    // Nobody here is in that room; its presence is read from KV on first use.
    if (!room) return;
    for (const event of envelope.events) {
      if (event.type === "message") {
        if (event.id > room.delivered || room.delivered < 0) {
          room.queue.push(event);
        }
      } else if (event.type === "typing") {
        room.queue.push({ type: "typing", nickname: event.nickname });
      } else if (event.type === "join") {
        this.#remoteJoin(room, event.sid, event.nickname, envelope.origin);
      } else if (event.type === "leave") {
        this.#remoteLeave(room, event.sid, envelope.origin);
      }
    }
    this.#schedule(room);
  }

  /** Reserves a connection slot for `ip` before an upgrade, or says why not. */
  admit(ip: string): ConnectionRefusal | undefined {
    return this.#counter.acquire(ip);
  }

  /** Gives back a slot from {@linkcode Hub.admit} when the upgrade failed. */
  unadmit(ip: string): void {
    this.#counter.release(ip);
  }

  /** Registers an upgraded socket; it joins its room once open and its nickname is confirmed. */
  attach(socket: WebSocket, info: AttachInfo): void {
    let session = this.#sessions.get(info.sid);
    if (!session) {
      session = {
        sid: info.sid,
        nickname: info.nickname,
        sockets: new Set(),
        bucket: new TokenBucket({
          burst: this.#config.rateBurst,
          perSecond: this.#config.ratePerSecond,
          now: this.#now(),
        }),
        strikes: 0,
        cids: new Map(),
        typingAt: new Map(),
        loggedOut: false,
        idleSince: 0,
      };
      this.#sessions.set(info.sid, session);
    }
    const member: Member = {
      socket,
      session,
      ip: info.ip,
      room: this.#room(info.room),
      since: info.since,
      state: CONNECTING,
      index: -1,
      held: undefined,
    };
    session.sockets.add(member);
    this.#connections++;
    socket.onopen = () => this.#guard(member, () => this.#onOpen(member));
    socket.onmessage = (event) =>
      this.#guard(member, () => this.#onMessage(member, event));
    socket.onclose = () => this.#guard(member, () => this.#detach(member));
    socket.onerror = () => {/* a close event always follows */};
    if (this.#closing) this.#close(member, CLOSE.RESTART, "Server restarting");
  }

  /** Ends a session: closes its sockets (one leave per room) and frees its nickname. */
  async logout(sid: string, nickname: string): Promise<void> {
    const session = this.#sessions.get(sid);
    if (session) {
      session.loggedOut = true;
      for (const member of [...session.sockets]) {
        this.#close(member, CLOSE.SESSION_INVALID, "Logged out");
      }
      this.#sessions.delete(sid);
    }
    await this.#nicknames.release(nickname, sid);
  }

  /** Connection, user and room counts. */
  stats(): HubStats {
    let users = 0;
    for (const session of this.#sessions.values()) {
      if (session.sockets.size > 0) users++;
    }
    return { connections: this.#connections, users, rooms: this.#rooms.size };
  }

  /** Rooms with people in them on any instance, most populated first. */
  async rooms(): Promise<{ name: string; users: number }[]> {
    const counts = new Map<string, Set<string>>();
    if (this.#presence) {
      for (const lease of await this.#presence.listAll()) {
        let sids = counts.get(lease.room);
        if (!sids) counts.set(lease.room, sids = new Set());
        sids.add(lease.sid);
      }
    }
    for (const room of this.#rooms.values()) {
      if (room.presence.size === 0) continue;
      let sids = counts.get(room.name);
      if (!sids) counts.set(room.name, sids = new Set());
      for (const sid of room.presence.keys()) sids.add(sid);
    }
    const out = [...counts].filter(([, sids]) => sids.size > 0).map((
      [name, sids],
    ) => ({ name, users: sids.size }));
    return out.sort((a, b) =>
      b.users - a.users || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
    );
  }

  /** Nicknames online in `room` on every instance, sorted. */
  users(room: string): string[] {
    const r = this.#rooms.get(room);
    if (!r) return [];
    return sortNicknames([...r.presence.values()].map((u) => u.nickname));
  }

  /** Closes every socket with `code` (1012 by default) so clients reconnect, and stops timers. */
  shutdown(code: number = CLOSE.RESTART): void {
    if (this.#closing) return;
    this.#closing = true;
    clearInterval(this.#renewTimer);
    clearTimeout(this.#backlogTimer);
    this.#backlogTimer = undefined;
    this.#backlog.clear();
    for (const room of this.#rooms.values()) {
      clearTimeout(room.gapTimer);
      room.gapTimer = undefined;
    }
    for (const session of this.#sessions.values()) {
      for (const member of [...session.sockets]) {
        this.#close(member, code, "Server restarting");
      }
    }
  }

  #room(name: string): Room {
    let room = this.#rooms.get(name);
    if (!room) {
      room = {
        name,
        members: [],
        users: new Map(),
        presence: new Map(),
        delivered: -1,
        catchUpTo: 0,
        ahead: new Map(),
        gapSince: 0,
        gapTimer: undefined,
        init: undefined,
        localOut: [],
        tombstones: new Map(),
        queue: [],
        senders: new Map(),
        joins: [],
        scheduled: false,
        flushing: false,
      };
      this.#rooms.set(name, room);
      this.#bus?.watch(name);
    }
    return room;
  }

  #guard(member: Member, fn: () => void | Promise<void>): void {
    const fail = (err: unknown) => {
      this.#log("Unexpected error on a socket: closing it", {
        nickname: member.session.nickname,
        room: member.room.name,
        error: err instanceof Error ? err.stack ?? err.message : String(err),
      });
      this.#close(member, CLOSE.INTERNAL, "Internal error");
    };
    try {
      const result = fn();
      if (result instanceof Promise) result.catch(fail);
    } catch (err) {
      fail(err);
    }
  }

  async #onOpen(member: Member): Promise<void> {
    if (member.state !== CONNECTING) return;
    const { session } = member;
    // Another open socket of this session already holds the lease, and the
    // shared timer renews it: only a session's first socket needs a claim.
    let confirmed = false;
    for (const other of session.sockets) {
      if (other !== member && other.state >= QUEUED && other.state < GONE) {
        confirmed = true;
        break;
      }
    }
    const ok = confirmed || await this.#nicknames.claim(
      session.nickname,
      session.sid,
      this.#leaseMs,
    );
    if (member.state !== CONNECTING) return;
    if (!ok) {
      this.#close(
        member,
        CLOSE.NICK_TAKEN,
        "Nickname is held by someone else",
      );
      return;
    }
    member.state = QUEUED;
    member.room.joins.push(member);
    this.#schedule(member.room);
  }

  #onMessage(member: Member, event: MessageEvent): void {
    if (member.state === GONE) return;
    const data = event.data;
    if (typeof data !== "string") {
      this.#close(member, CLOSE.UNSUPPORTED, "Binary frames are not accepted");
      return;
    }
    if (isOversized(data, this.#config.maxFrameBytes)) {
      this.#close(member, CLOSE.TOO_BIG, "Frame too large");
      return;
    }
    const request = parseClientFrame(data);
    if (request.type === "error") {
      this.#send(member, errorFrame(request.code, request.message));
      return;
    }
    if (member.state !== JOINED) {
      member.held ??= [];
      if (member.held.length >= MAX_HELD_FRAMES) {
        this.#close(member, CLOSE.POLICY, "Too many frames before joining");
        return;
      }
      member.held.push(request);
      return;
    }
    this.#handle(member, request);
  }

  #handle(member: Member, request: ClientRequest): void {
    const { session, room } = member;
    const now = this.#now();
    if (request.type === "typing") {
      const last = session.typingAt.get(room.name) ?? 0;
      if (now - last < TYPING_INTERVAL_MS) return;
      session.typingAt.set(room.name, now);
      room.queue.push({ type: "typing", nickname: session.nickname });
      if (this.#bus) {
        room.localOut.push({ type: "typing", nickname: session.nickname });
      }
      this.#schedule(room);
      return;
    }
    if (request.type !== "message") return;
    const text = request.text.trim();
    if (text.length === 0) {
      this.#send(
        member,
        errorFrame("empty", "Empty message: nothing was sent"),
      );
      return;
    }
    const max = this.#config.maxMessageChars;
    if (text.length > max && countCodePoints(text, max) > max) {
      this.#send(
        member,
        errorFrame(
          "too_long",
          `Message too long: at most ${max} characters are allowed`,
        ),
      );
      return;
    }
    if (request.cid !== undefined) {
      const seen = session.cids.get(request.cid);
      if (seen) {
        // A retry of a message already taken: confirm it again, post nothing.
        if (seen.id > 0) this.#send(member, JSON.stringify(seen));
        return;
      }
    }
    const wait = session.bucket.take(now);
    if (wait > 0) {
      session.strikes++;
      if (session.strikes > 5 * this.#config.rateBurst) {
        this.#close(member, CLOSE.POLICY, "Rate limit exceeded");
        return;
      }
      const seconds = Math.ceil(wait * 10) / 10;
      this.#send(
        member,
        errorFrame(
          "rate_limited",
          `Too many messages: wait ${seconds} s before sending again`,
          { retryAfter: seconds },
        ),
      );
      return;
    }
    session.strikes = 0;
    const message: ChatMessage = {
      type: "message",
      id: 0,
      nickname: session.nickname,
      text,
      ts: now,
    };
    if (request.cid !== undefined) {
      message.cid = request.cid;
      session.cids.set(request.cid, message);
      if (session.cids.size > MAX_CIDS) {
        session.cids.delete(session.cids.keys().next().value!);
      }
    }
    room.queue.push(message);
    room.senders.set(message, member);
    this.#schedule(room);
  }

  #schedule(room: Room): void {
    if (room.scheduled || room.flushing) return;
    room.scheduled = true;
    // A microtask adds no latency under light load; under heavy load events
    // pile up while the KV commit is in flight and leave as one frame.
    if (this.#config.batchMs > 0) {
      setTimeout(() => this.#flush(room), this.#config.batchMs);
    } else {
      queueMicrotask(() => this.#flush(room));
    }
  }

  async #flush(room: Room): Promise<void> {
    room.scheduled = false;
    if (room.flushing) return;
    room.flushing = true;
    let joins: Member[] = [];
    try {
      room.init ??= this.#initRoom(room);
      await room.init;
      while (this.#pending(room)) {
        let events = room.queue;
        room.queue = [];
        joins = room.joins;
        room.joins = [];
        const committed = await this.#commit(room, events);
        events = await this.#sequence(room, events);
        const joined: Member[] = [];
        const ts = this.#now();
        const published: BusEvent[] = committed;
        for (const member of joins) {
          if (member.state !== QUEUED) continue;
          member.state = COUNTED;
          const { sid, nickname } = member.session;
          const user = room.users.get(sid);
          if (user) user.sockets++;
          else {
            room.users.set(sid, { nickname, sockets: 1 });
            await this.#presence?.put([{ room: room.name, sid, nickname }]);
            published.push({ type: "join", nickname, sid, ts });
            if (this.#addPresence(room, sid, nickname, this.#instance)) {
              events.push({ type: "join", nickname, ts });
            }
          }
          joined.push(member);
        }
        if (events.length > 0) this.#fanout(room, events);
        if (room.localOut.length > 0) {
          const out = room.localOut;
          room.localOut = [];
          for (const event of out) {
            // The lease goes before the notice, so no sweep elsewhere revives it.
            if (event.type === "leave") {
              await this.#presence?.remove(room.name, event.sid);
            }
            published.push(event);
          }
        }
        if (published.length > 0) {
          this.#bus?.publish({
            origin: this.#instance,
            room: room.name,
            events: published,
          });
        }
        if (joined.length > 0) await this.#welcome(room, joined);
        joins = [];
      }
    } catch (err) {
      this.#log("Flush failed: its joiners are closed to retry", {
        room: room.name,
        error: err instanceof Error ? err.stack ?? err.message : String(err),
      });
      // A failed start (KV down) must be retried, not remembered.
      if (room.delivered < 0) room.init = undefined;
      // Joiners left without a welcome would wait forever; 1011 makes the
      // client reconnect and resume with since.
      for (const member of [...joins, ...room.joins]) {
        if (member.state !== JOINED) {
          this.#close(member, CLOSE.INTERNAL, "Internal error: reconnect");
        }
      }
      room.joins = [];
    } finally {
      room.flushing = false;
      if (this.#pending(room)) this.#schedule(room);
      else this.#forgetIfEmpty(room);
    }
  }

  #pending(room: Room): boolean {
    return room.queue.length > 0 || room.joins.length > 0 ||
      room.localOut.length > 0 ||
      (room.delivered >= 0 && room.catchUpTo > room.delivered);
  }

  async #commit(room: Room, events: RoomEvent[]): Promise<ChatMessage[]> {
    const fresh: ChatMessage[] = [];
    for (const event of events) {
      if (event.type === "message" && event.id === 0) fresh.push(event);
    }
    if (fresh.length === 0) return fresh;
    try {
      const stored = await this.#store.append(room.name, fresh);
      for (let i = 0; i < fresh.length; i++) fresh[i].id = stored[i].id;
      for (const message of fresh) room.senders.delete(message);
      return fresh;
    } catch (err) {
      this.#log("Storing messages failed: senders are told", {
        room: room.name,
        count: fresh.length,
        error: err instanceof Error ? err.message : String(err),
      });
      for (const message of fresh) {
        const sender = room.senders.get(message);
        room.senders.delete(message);
        if (message.cid !== undefined && sender) {
          sender.session.cids.delete(message.cid);
        }
        if (sender) {
          this.#send(
            sender,
            errorFrame("internal", "Message not stored: please send it again"),
          );
        }
      }
      const kept = events.filter((e) => !(e.type === "message" && e.id === 0));
      events.length = 0;
      events.push(...kept);
      return [];
    }
  }

  async #initRoom(room: Room): Promise<void> {
    const head = await this.#store.head(room.name);
    const leases = this.#presence ? await this.#presence.list(room.name) : [];
    // Set last: a room whose start failed keeps -1 and is started again.
    room.delivered = head;
    for (const lease of leases) {
      if (lease.instance === this.#instance) continue;
      this.#addPresence(
        room,
        lease.sid,
        lease.nickname,
        lease.instance,
        lease.until - this.#config.presenceTtlSeconds * 1000,
      );
    }
  }

  /**
   * Puts a flush's messages in id order, drops ones already delivered, and
   * fills any gap from KV: ids are the room's sequence across instances, and
   * each member must see each one once, in order.
   */
  async #sequence(room: Room, events: RoomEvent[]): Promise<RoomEvent[]> {
    const messages: ChatMessage[] = [];
    for (const event of events) {
      if (event.type === "message") messages.push(event);
    }
    const target = room.catchUpTo;
    room.catchUpTo = 0;
    // The common case, one instance: this flush continues the sequence.
    if (room.ahead.size === 0 && target <= room.delivered) {
      let expect = room.delivered + 1;
      let inOrder = true;
      for (const m of messages) {
        if (m.id !== expect++) {
          inOrder = false;
          break;
        }
      }
      if (inOrder) {
        if (messages.length > 0) room.delivered = expect - 1;
        return events;
      }
    }
    // Several instances: hold what is ahead, fill gaps from KV, and deliver
    // only what follows on without a hole.
    for (const m of messages) {
      if (m.id > room.delivered) room.ahead.set(m.id, m);
    }
    let top = target;
    for (const id of room.ahead.keys()) if (id > top) top = id;
    const ordered: ChatMessage[] = [];
    const take = () => {
      let next = room.delivered + 1;
      for (let m = room.ahead.get(next); m; m = room.ahead.get(next)) {
        ordered.push(m);
        room.ahead.delete(next);
        room.delivered = next++;
      }
    };
    take();
    if (top > room.delivered) {
      for (const m of await this.#store.range(room.name, room.delivered, top)) {
        if (m.id > room.delivered && !room.ahead.has(m.id)) {
          room.ahead.set(m.id, m);
        }
      }
      take();
    }
    if (room.ahead.size > 0 || top > room.delivered) this.#awaitGap(room, top);
    else room.gapSince = 0;
    const out: RoomEvent[] = [];
    let placed = false;
    for (const event of events) {
      if (event.type !== "message") out.push(event);
      else if (!placed) {
        out.push(...ordered);
        placed = true;
      }
    }
    if (!placed) out.push(...ordered);
    return out;
  }

  /**
   * A hole in the sequence that KV no longer has (trimmed) is usually a
   * message still on its way over the bus: wait a little for it, then give
   * up on it so the room does not stall; clients see `recovered:false` on
   * their next resume if they need it.
   */
  #awaitGap(room: Room, top: number): void {
    const now = this.#now();
    if (room.gapSince === 0) room.gapSince = now;
    if (now - room.gapSince > GAP_WAIT_MS) {
      const first = Math.min(...room.ahead.keys(), top + 1);
      this.#log("Messages lost between instances: skipping them", {
        room: room.name,
        from: room.delivered + 1,
        to: first - 1,
      });
      room.delivered = first - 1;
      room.gapSince = 0;
      room.catchUpTo = top;
      this.#schedule(room);
      return;
    }
    if (room.gapTimer !== undefined) return;
    room.gapTimer = setTimeout(() => {
      room.gapTimer = undefined;
      if (this.#closing) return;
      room.catchUpTo = Math.max(room.catchUpTo, top);
      this.#schedule(room);
    }, GAP_RETRY_MS);
  }

  /** Records `sid` as present through `instance`; true when the user is new to the room. */
  #addPresence(
    room: Room,
    sid: string,
    nickname: string,
    instance: string,
    seenAt: number = this.#now(),
  ): boolean {
    const entry = room.presence.get(sid);
    if (entry) {
      const at = entry.instances.get(instance) ?? 0;
      entry.instances.set(instance, Math.max(at, seenAt));
      return false;
    }
    room.presence.set(sid, {
      nickname,
      instances: new Map([[instance, seenAt]]),
    });
    return true;
  }

  /** Removes `instance` from `sid`'s presence; true when the user has left the room. */
  #removePresence(room: Room, sid: string, instance: string): boolean {
    const entry = room.presence.get(sid);
    if (!entry || !entry.instances.delete(instance)) return false;
    if (entry.instances.size > 0) return false;
    room.presence.delete(sid);
    return true;
  }

  #remoteJoin(room: Room, sid: string, nickname: string, origin: string) {
    room.tombstones.delete(`${origin}\u0000${sid}`);
    if (this.#addPresence(room, sid, nickname, origin)) {
      room.queue.push({ type: "join", nickname, ts: this.#now() });
    }
  }

  #remoteLeave(room: Room, sid: string, origin: string) {
    const entry = room.presence.get(sid);
    room.tombstones.set(`${origin}\u0000${sid}`, this.#now());
    if (entry && this.#removePresence(room, sid, origin)) {
      room.queue.push({
        type: "leave",
        nickname: entry.nickname,
        ts: this.#now(),
      });
    }
  }

  /** Reconciles presence with the shared leases and catches up on missed messages. */
  async #sweepPresence(): Promise<void> {
    const presence = this.#presence!;
    const ttl = this.#config.presenceTtlSeconds * 1000;
    for (const room of [...this.#rooms.values()]) {
      if (room.delivered < 0 || this.#closing) continue;
      try {
        const leases = await presence.list(room.name);
        const head = await this.#store.head(room.name);
        const now = this.#now();
        for (const [key, at] of room.tombstones) {
          if (now - at > ttl) room.tombstones.delete(key);
        }
        for (const lease of leases) {
          if (lease.instance === this.#instance) continue;
          if (room.tombstones.has(`${lease.instance}\u0000${lease.sid}`)) {
            continue;
          }
          if (
            // A lease is as fresh as its last renewal, not as this sighting:
            // an instance that died is gone once its lease runs out.
            this.#addPresence(
              room,
              lease.sid,
              lease.nickname,
              lease.instance,
              lease.until - ttl,
            )
          ) {
            room.queue.push({
              type: "join",
              nickname: lease.nickname,
              ts: now,
            });
          }
        }
        for (const [sid, entry] of [...room.presence]) {
          for (const [instance, at] of [...entry.instances]) {
            // A live instance renews every third of the TTL.
            if (instance === this.#instance || now - at <= ttl) continue;
            if (this.#removePresence(room, sid, instance)) {
              room.queue.push({
                type: "leave",
                nickname: entry.nickname,
                ts: now,
              });
            }
          }
        }
        if (head > room.delivered) room.catchUpTo = head;
        if (room.queue.length > 0 || room.catchUpTo > room.delivered) {
          this.#schedule(room);
        }
      } catch (err) {
        this.#log("Presence sweep failed", {
          room: room.name,
          error: String(err),
        });
      }
    }
  }

  #fanout(room: Room, events: RoomEvent[]): void {
    const frame = encodeEvents(events);
    let typingOnly = true;
    for (const event of events) {
      if (event.type !== "typing") {
        typingOnly = false;
        break;
      }
    }
    const members = room.members;
    const typingLimit = this.#config.slowClientBytes / 4;
    let evict: Member[] | undefined;
    for (let i = 0; i < members.length; i++) {
      const socket = members[i].socket;
      if (socket.readyState !== WebSocket.OPEN) {
        (evict ??= []).push(members[i]);
        continue;
      }
      // Typing is the first thing a backed-up reader goes without.
      if (typingOnly && socket.bufferedAmount > typingLimit) continue;
      try {
        socket.send(frame);
      } catch {
        (evict ??= []).push(members[i]);
        continue;
      }
    }
    this.#backlog.add(room);
    this.#backlogTimer ??= setTimeout(this.#checkBacklog, 0);
    if (evict) {
      for (const member of evict) {
        this.#close(member, CLOSE.TRY_AGAIN, "Too slow: reconnect to catch up");
      }
    }
  }

  async #welcome(room: Room, joined: Member[]): Promise<void> {
    let recent: HistoryPage | undefined;
    // Everyone joining in one flush sees the same room: sort the list once,
    // and serialise the shared recent history once, not per joiner.
    let users: string[] | undefined;
    let recentPart: string | undefined;
    for (const member of joined) {
      let page: HistoryPage;
      if (member.since === undefined) {
        recent ??= await this.#store.recent(
          room.name,
          this.#config.historyOnJoin,
        );
        page = recent;
      } else {
        page = await this.#store.since(room.name, member.since);
      }
      if (page.seq > room.delivered) {
        // Another instance committed more than has reached us: bring the
        // members up to what this joiner's history shows, so nobody misses
        // a message and the joiner gets none twice.
        room.catchUpTo = Math.max(room.catchUpTo, page.seq);
        const caught = await this.#sequence(room, []);
        if (caught.length > 0) this.#fanout(room, caught);
      }
      if (member.state !== COUNTED) continue;
      users ??= this.users(room.name);
      const part = page === recent
        ? recentPart ??= welcomePart(users, page)
        : welcomePart(users, page);
      const own: Pick<WelcomeFrame, "type" | "nickname" | "room"> = {
        type: "welcome",
        nickname: member.session.nickname,
        room: room.name,
      };
      member.state = JOINED;
      member.index = room.members.length;
      room.members.push(member);
      // Both halves are JSON objects: join them into one.
      this.#send(
        member,
        `${JSON.stringify(own).slice(0, -1)},${part.slice(1)}`,
      );
      const held = member.held;
      member.held = undefined;
      if (held) { for (const request of held) this.#handle(member, request); }
    }
  }

  #send(member: Member, text: string): void {
    const socket = member.socket;
    if (socket.readyState !== WebSocket.OPEN) return;
    try {
      socket.send(text);
    } catch {
      this.#close(member, CLOSE.GOING_AWAY, "Send failed");
    }
  }

  /** Closes a member's socket and removes it at once, since Deno may fire close twice or never. */
  #close(member: Member, code: number, reason: string): void {
    try {
      const state = member.socket.readyState;
      if (state === WebSocket.OPEN || state === WebSocket.CONNECTING) {
        member.socket.close(code, reason);
      }
    } catch {
      // Already closing: detaching below is what matters.
    }
    this.#detach(member);
  }

  #detach(member: Member): void {
    if (member.state === GONE) return;
    const previous = member.state;
    member.state = GONE;
    member.held = undefined;
    const { room, session } = member;
    this.#connections--;
    this.#counter.release(member.ip);
    session.sockets.delete(member);
    if (previous === JOINED) {
      const last = room.members.pop()!;
      if (last !== member) {
        room.members[member.index] = last;
        last.index = member.index;
      }
      member.index = -1;
    }
    if (previous === JOINED || previous === COUNTED) {
      const user = room.users.get(session.sid);
      if (user && --user.sockets === 0) {
        room.users.delete(session.sid);
        const ts = this.#now();
        const gone = this.#removePresence(room, session.sid, this.#instance);
        if (!this.#closing) {
          if (gone) {
            room.queue.push({ type: "leave", nickname: user.nickname, ts });
          }
          if (this.#bus) {
            room.localOut.push({
              type: "leave",
              nickname: user.nickname,
              sid: session.sid,
              ts,
            });
          }
          this.#schedule(room);
        }
      }
    }
    if (session.sockets.size === 0) {
      session.idleSince = this.#now();
      if (!session.loggedOut && !this.#closing) {
        // Keep the name for a grace period so a reload does not lose it.
        this.#nicknames.claim(
          session.nickname,
          session.sid,
          this.#config.nickGraceSeconds * 1000,
          { exact: true },
        ).catch((err) =>
          this.#log("Could not hold nickname after leaving", {
            nickname: session.nickname,
            error: String(err),
          })
        );
      }
    }
    this.#forgetIfEmpty(room);
  }

  /**
   * Deno counts a frame in bufferedAmount from send() until its write
   * completes on a later turn, so a reader that keeps up would look slow
   * right after a burst; the backlog is judged once the loop has turned.
   */
  #checkBacklog = (): void => {
    this.#backlogTimer = undefined;
    const slow = this.#config.slowClientBytes;
    for (const room of this.#backlog) {
      let slowest: Member[] | undefined;
      for (const member of room.members) {
        if (member.socket.bufferedAmount > slow) (slowest ??= []).push(member);
      }
      if (!slowest) continue;
      for (const member of slowest) {
        this.#close(member, CLOSE.TRY_AGAIN, "Too slow: reconnect to catch up");
      }
    }
    this.#backlog.clear();
  };

  #forgetIfEmpty(room: Room): void {
    if (
      room.members.length === 0 && room.users.size === 0 &&
      room.queue.length === 0 && room.joins.length === 0 && !room.flushing &&
      !room.scheduled && room.localOut.length === 0 &&
      room.gapTimer === undefined
    ) {
      this.#rooms.delete(room.name);
      this.#bus?.unwatch(room.name);
    }
  }

  #pruneSessions(): void {
    const cutoff = this.#now() - SESSION_RETENTION_MS;
    for (const [sid, session] of this.#sessions) {
      if (session.sockets.size === 0 && session.idleSince < cutoff) {
        this.#sessions.delete(sid);
      }
    }
  }

  async #renewLeases(): Promise<void> {
    if (this.#presence) {
      const mine: { room: string; sid: string; nickname: string }[] = [];
      for (const room of this.#rooms.values()) {
        for (const [sid, user] of room.users) {
          mine.push({ room: room.name, sid, nickname: user.nickname });
        }
      }
      if (mine.length > 0) {
        this.#presence.put(mine).catch((err) =>
          this.#log("Renewing presence failed", { error: String(err) })
        );
      }
    }
    const leases: { nickname: string; sid: string }[] = [];
    for (const session of this.#sessions.values()) {
      if (session.sockets.size > 0 && !session.loggedOut) {
        leases.push({ nickname: session.nickname, sid: session.sid });
      }
    }
    if (leases.length === 0) return;
    try {
      const lost = new Set(await this.#nicknames.renew(leases, this.#leaseMs));
      for (const session of [...this.#sessions.values()]) {
        if (!lost.has(session.nickname)) continue;
        for (const member of [...session.sockets]) {
          this.#close(
            member,
            CLOSE.NICK_TAKEN,
            "Nickname is held by someone else",
          );
        }
      }
    } catch (err) {
      this.#log("Renewing nickname leases failed", { error: String(err) });
    }
  }
}

/** The part of a welcome frame that every joiner of one page shares, as JSON. */
function welcomePart(users: string[], page: HistoryPage): string {
  const part: Omit<WelcomeFrame, "type" | "nickname" | "room"> = {
    users,
    history: page.messages,
    seq: page.seq,
    recovered: page.recovered,
  };
  return JSON.stringify(part);
}

function countCodePoints(text: string, stopAfter: number): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    if (++count > stopAfter) return count;
  }
  return count;
}

// One collator for every sort: localeCompare would build one per call.
const COLLATOR = new Intl.Collator("und");

function sortNicknames(names: string[]): string[] {
  return names.sort((a, b) =>
    COLLATOR.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0)
  );
}

function defaultLog(message: string, fields?: Record<string, unknown>): void {
  console.error(JSON.stringify({ level: "error", message, ...fields }));
}

/** Builds a fresh room map; each app (and each test) gets its own. */
export function createHub(options: HubOptions): Hub {
  return new Hub(options);
}
