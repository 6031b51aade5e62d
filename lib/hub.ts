/**
 * The room map: open sockets register here, and each room's events are
 * committed, serialised once and fanned out to its members.
 *
 * @module
 */
import type { Config } from "./config.ts";
import {
  ConnectionCounter,
  type ConnectionRefusal,
  TokenBucket,
} from "./limits.ts";
import type { NicknameRegistry } from "./nicknames.ts";
import {
  type ClientRequest,
  CLOSE,
  encodeEvents,
  errorFrame,
  isOversized,
  parseClientFrame,
  type RoomEvent,
  type WelcomeFrame,
} from "./protocol.ts";
import type { ChatMessage, HistoryPage, Store } from "./store.ts";

/** The default room: `/chat` and `/ws` lead here. */
export const LOBBY = "lobby";

/** A valid room slug. */
export const ROOM_PATTERN = /^[a-z0-9-]{1,32}$/;

/** Whether `name` is a valid room slug. */
export function isRoomName(name: string): boolean {
  return ROOM_PATTERN.test(name);
}

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

interface Room {
  name: string;
  members: Member[];
  users: Map<string, RoomUser>;
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

  constructor(options: HubOptions) {
    this.#config = options.config;
    this.#store = options.store;
    this.#nicknames = options.nicknames;
    this.#now = options.now ?? Date.now;
    this.#log = options.log ?? defaultLog;
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
    }, renewMs);
    Deno.unrefTimer(this.#renewTimer);
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

  /** Rooms with people in them, most populated first. */
  rooms(): { name: string; users: number }[] {
    const out: { name: string; users: number }[] = [];
    for (const room of this.#rooms.values()) {
      if (room.users.size > 0) {
        out.push({ name: room.name, users: room.users.size });
      }
    }
    return out.sort((a, b) =>
      b.users - a.users || a.name.localeCompare(b.name)
    );
  }

  /** Nicknames online in `room`, sorted. */
  users(room: string): string[] {
    const r = this.#rooms.get(room);
    if (!r) return [];
    return sortNicknames([...r.users.values()].map((u) => u.nickname));
  }

  /** Closes every socket with `code` (1012 by default) so clients reconnect, and stops timers. */
  shutdown(code: number = CLOSE.RESTART): void {
    this.#closing = true;
    clearInterval(this.#renewTimer);
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
        queue: [],
        senders: new Map(),
        joins: [],
        scheduled: false,
        flushing: false,
      };
      this.#rooms.set(name, room);
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
    const ok = await this.#nicknames.claim(
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
    try {
      while (room.queue.length > 0 || room.joins.length > 0) {
        const events = room.queue;
        room.queue = [];
        const joins = room.joins;
        room.joins = [];
        await this.#commit(room, events);
        const joined: Member[] = [];
        const ts = this.#now();
        for (const member of joins) {
          if (member.state !== QUEUED) continue;
          member.state = COUNTED;
          const user = room.users.get(member.session.sid);
          if (user) user.sockets++;
          else {
            const nickname = member.session.nickname;
            room.users.set(member.session.sid, { nickname, sockets: 1 });
            events.push({ type: "join", nickname, ts });
          }
          joined.push(member);
        }
        if (events.length > 0) this.#fanout(room, events);
        if (joined.length > 0) await this.#welcome(room, joined);
      }
    } catch (err) {
      this.#log("Flush failed", {
        room: room.name,
        error: err instanceof Error ? err.stack ?? err.message : String(err),
      });
    } finally {
      room.flushing = false;
      if (room.queue.length > 0 || room.joins.length > 0) this.#schedule(room);
      else this.#forgetIfEmpty(room);
    }
  }

  async #commit(room: Room, events: RoomEvent[]): Promise<void> {
    const fresh: ChatMessage[] = [];
    for (const event of events) {
      if (event.type === "message" && event.id === 0) fresh.push(event);
    }
    if (fresh.length === 0) return;
    try {
      const stored = await this.#store.append(room.name, fresh);
      for (let i = 0; i < fresh.length; i++) fresh[i].id = stored[i].id;
      for (const message of fresh) room.senders.delete(message);
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
    const slow = this.#config.slowClientBytes;
    let evict: Member[] | undefined;
    for (let i = 0; i < members.length; i++) {
      const socket = members[i].socket;
      if (socket.readyState !== WebSocket.OPEN) {
        (evict ??= []).push(members[i]);
        continue;
      }
      // Typing is the first thing a backed-up reader goes without.
      if (typingOnly && socket.bufferedAmount > 0) continue;
      try {
        socket.send(frame);
      } catch {
        (evict ??= []).push(members[i]);
        continue;
      }
      if (socket.bufferedAmount > slow) (evict ??= []).push(members[i]);
    }
    if (evict) {
      for (const member of evict) {
        this.#close(member, CLOSE.TRY_AGAIN, "Too slow: reconnect to catch up");
      }
    }
  }

  async #welcome(room: Room, joined: Member[]): Promise<void> {
    let recent: HistoryPage | undefined;
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
      if (member.state !== COUNTED) continue;
      const frame: WelcomeFrame = {
        type: "welcome",
        nickname: member.session.nickname,
        room: room.name,
        users: this.users(room.name),
        history: page.messages,
        seq: page.seq,
        recovered: page.recovered,
      };
      member.state = JOINED;
      member.index = room.members.length;
      room.members.push(member);
      this.#send(member, JSON.stringify(frame));
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
        if (!this.#closing) {
          room.queue.push({
            type: "leave",
            nickname: user.nickname,
            ts: this.#now(),
          });
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

  #forgetIfEmpty(room: Room): void {
    if (
      room.members.length === 0 && room.users.size === 0 &&
      room.queue.length === 0 && room.joins.length === 0 && !room.flushing &&
      !room.scheduled
    ) {
      this.#rooms.delete(room.name);
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

function sortNicknames(names: string[]): string[] {
  return names.sort((a, b) =>
    a.localeCompare(b) || (a < b ? -1 : a > b ? 1 : 0)
  );
}

function defaultLog(message: string, fields?: Record<string, unknown>): void {
  console.error(JSON.stringify({ level: "error", message, ...fields }));
}

/** Builds a fresh room map; each app (and each test) gets its own. */
export function createHub(options: HubOptions): Hub {
  return new Hub(options);
}
