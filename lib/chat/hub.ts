/**
 * The registry: which connections are in which rooms on this instance.
 * It admits and attaches sockets, routes their frames and the bus's
 * envelopes to rooms, runs the one timer that renews leases, and shuts
 * everything down. What happens to an event inside a room is room.ts.
 *
 * @module
 */
import type { Config } from "../app/config.ts";
import { defaultLog, type Logger } from "../app/log.ts";
import { type Bus, type BusEnvelope, createMemoryBus } from "../cluster/bus.ts";
import type { HistoryStore } from "../storage/history.ts";
import { LruMap } from "../storage/lru_map.ts";
import type { NicknameRegistry } from "../storage/nickname_registry.ts";
import {
  NO_PRESENCE_LEASES,
  type PresenceStore,
} from "../storage/presence_leases.ts";
import {
  Connection,
  type ConnectionState,
  type SocketHandlers,
} from "./connection.ts";
import { Fanout } from "./fanout.ts";
import {
  AddressLimiter,
  ConnectionCounter,
  type ConnectionRefusal,
} from "./limits.ts";
import { NickLeases } from "./nick_leases.ts";
import {
  CLOSE,
  errorFrame,
  isOversized,
  parseClientFrame,
} from "./protocol.ts";
import { strike } from "./intake.ts";
import { Room } from "./room.ts";
import type { RoomContext } from "./room_context.ts";
import { SessionTable } from "./sessions.ts";
import { bindGate, type ModerationGate } from "../moderation/gate.ts";

/** Addresses whose message buckets are held at once; idle ones go first. */
const MAX_MESSAGE_ADDRESSES = 10000;

/** Logged-out sessions remembered, far more than can race one logout. */
const MAX_ENDED_SESSIONS = 10000;

/** What {@linkcode Hub} needs. */
export interface HubOptions {
  config: Pick<
    Config,
    "limits" | "nicknames" | "history" | "fanout" | "cluster"
  >;
  /** This instance's id, unique across every instance of the chat. */
  instance: string;
  history: HistoryStore;
  nicknames: NicknameRegistry;
  /** How instances reach each other; one instance alone needs none. */
  bus?: Bus;
  /** Presence shared through KV; only when several instances share a chat. */
  leases?: PresenceStore;
  now?: () => number;
  log?: Logger;
  /** Kicks, bans, mutes and room rules (lib/moderation/). */
  moderation?: ModerationGate;
}

/** Who is attaching a socket, checked before the upgrade. */
export interface AttachInfo {
  sid: string;
  nickname: string;
  room: string;
  ip: string;
  /** The last message id the client saw in this room, for loss-free resume. */
  since?: number;
  /** The epoch the client's `since` belongs to. */
  epoch?: string;
}

/** Counts for /healthz. */
export interface HubStats {
  connections: number;
  users: number;
  rooms: number;
}

/** The room map and everything that fans out through it. */
export class Hub {
  #config: HubOptions["config"];
  #instance: string;
  #now: () => number;
  #log: Logger;
  #bus: Bus;
  #leases: PresenceStore;
  /** Whether other instances share this chat, so presence must be swept. */
  #clustered: boolean;
  #rooms = new Map<string, Room>();
  #sessions: SessionTable;
  #nickLeases: NickLeases;
  #counter: ConnectionCounter;
  #fanout: Fanout;
  #roomContext: RoomContext;
  /** Every connection whose slot is held: from its upgrade until its close frame is sent. */
  #live = new Set<Connection>();
  /** Sessions logged out lately: an upgrade that checked the session before the logout is closed. */
  #ended = new LruMap<string, true>(MAX_ENDED_SESSIONS);
  #timer: ReturnType<typeof setInterval>;
  #closing = false;
  #moderation: ModerationGate | undefined;
  // One set of callbacks for every connection, so none holds closures of its own.
  #onGone = (c: Connection, previous: ConnectionState) =>
    this.#detach(c, previous);
  #onReleased = (c: Connection) => this.#release(c);
  #handlers: SocketHandlers = {
    open: (c) => this.#onOpen(c),
    message: (c, event) => this.#onMessage(c, event),
    log: (...args) => this.#log(...args),
  };

  constructor(options: HubOptions) {
    const { limits, nicknames, cluster } = options.config;
    this.#config = options.config;
    this.#instance = options.instance;
    this.#now = options.now ?? Date.now;
    this.#log = options.log ?? defaultLog;
    this.#bus = options.bus ?? createMemoryBus();
    this.#leases = options.leases ?? NO_PRESENCE_LEASES;
    this.#clustered = options.leases !== undefined;
    this.#sessions = new SessionTable(limits);
    this.#counter = new ConnectionCounter({
      maxPerIp: limits.maxConnectionsPerIp,
      maxTotal: limits.maxConnections,
    });
    this.#fanout = new Fanout(limits);
    const ttlMs = cluster.presenceTtlSeconds * 1000;
    this.#nickLeases = new NickLeases({
      registry: options.nicknames,
      leaseMs: Math.max(nicknames.graceSeconds * 1000, ttlMs),
      graceMs: nicknames.graceSeconds * 1000,
      log: this.#log,
    });
    this.#roomContext = {
      history: options.history,
      leases: this.#leases,
      bus: this.#bus,
      fanout: this.#fanout,
      addressMessages: new AddressLimiter({
        burst: limits.addressRateBurst,
        perSecond: limits.addressRatePerSecond,
        maxAddresses: MAX_MESSAGE_ADDRESSES,
      }),
      instance: this.#instance,
      settings: {
        batchMs: this.#config.fanout.batchMs,
        historyOnJoin: this.#config.history.onJoin,
        maxMessageChars: limits.maxMessageChars,
        presenceTtlMs: ttlMs,
        historySize: this.#config.history.size,
        editWindowMs: limits.editWindowMinutes * 60_000,
      },
      now: this.#now,
      log: this.#log,
      closing: () => this.#closing,
      onIdle: (room) => {
        this.#rooms.delete(room.name);
        this.#bus.unwatch(room.name);
      },
    };
    this.#moderation = options.moderation;
    this.#moderation?.connect({
      connections: () => this.#live.values(),
      endSession: (sid, nickname, close) => this.logout(sid, nickname, close),
    });
    this.#bus.listen((envelope) => this.receive(envelope));
    // One shared timer, at a third of the presence TTL, renews every lease.
    this.#timer = setInterval(() => this.#tick(), ttlMs / 3);
    Deno.unrefTimer(this.#timer);
  }

  /** Takes an envelope from another instance and delivers it to this instance's members. */
  receive(envelope: BusEnvelope): void {
    if (this.#closing) return;
    // Nobody here is in that room; its presence is read from KV on first use.
    this.#rooms.get(envelope.room)?.receive(envelope.events, envelope.origin);
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
    const session = this.#sessions.open(info.sid, info.nickname, this.#now());
    const room = this.#room(info.room);
    const connection = new Connection(socket, {
      session,
      room,
      ip: info.ip,
      since: info.since,
      epoch: info.epoch,
      onGone: this.#onGone,
      onReleased: this.#onReleased,
      backlog: this.#fanout,
      log: this.#log,
    });
    session.sockets.add(connection);
    if (this.#moderation) bindGate(session, this.#moderation);
    room.attach();
    this.#live.add(connection);
    connection.listen(this.#handlers);
    if (this.#closing) connection.close(CLOSE.RESTART, "Server restarting");
    // Its upgrade passed the revocation check before the logout landed.
    if (this.#ended.get(info.sid)) {
      connection.close(CLOSE.SESSION_INVALID, "Logged out");
    }
  }

  /** Ends a session: closes its sockets (one leave per room; 4401 unless told) and frees its nickname. */
  async logout(
    sid: string,
    nickname: string,
    close = { code: CLOSE.SESSION_INVALID as number, reason: "Logged out" },
  ): Promise<void> {
    this.#ended.set(sid, true);
    const session = this.#sessions.get(sid);
    if (session) {
      session.loggedOut = true;
      for (const connection of [...session.sockets]) {
        connection.close(close.code, close.reason);
      }
      this.#sessions.delete(sid);
    }
    await this.#nickLeases.release(nickname, sid);
  }

  /** Connection, user and room counts. */
  stats(): HubStats {
    let users = 0;
    for (const _ of this.#sessions.active()) users++;
    return { connections: this.#live.size, users, rooms: this.#rooms.size };
  }

  /** Rooms with people in them on any instance, most populated first. */
  async rooms(): Promise<{ name: string; users: number }[]> {
    const counts = new Map<string, Set<string>>();
    const add = (room: string, sid: string) => {
      let sids = counts.get(room);
      if (!sids) counts.set(room, sids = new Set());
      sids.add(sid);
    };
    for (const lease of await this.#leases.listAll()) {
      add(lease.room, lease.sid);
    }
    for (const room of this.#rooms.values()) {
      for (const sid of room.presence.sids()) add(room.name, sid);
    }
    const out = [...counts].map(([name, sids]) => ({ name, users: sids.size }));
    return out.sort((a, b) =>
      b.users - a.users || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
    );
  }

  /** Nicknames online in `room` on every instance, sorted. */
  users(room: string): string[] {
    return this.#rooms.get(room)?.presence.nicknames() ?? [];
  }

  /** Closes every socket with `code` (1012 by default) so clients reconnect, and stops timers. */
  shutdown(code: number = CLOSE.RESTART): void {
    if (this.#closing) return;
    this.#closing = true;
    clearInterval(this.#timer);
    this.#fanout.stop();
    for (const room of this.#rooms.values()) room.stop();
    // Every socket, those still draining after a close included, gets its
    // close frame now: a shutdown does not wait for peers to pause.
    for (const connection of [...this.#live]) {
      connection.close(code, "Server restarting", { now: true });
    }
  }

  #room(name: string): Room {
    let room = this.#rooms.get(name);
    if (!room) {
      room = new Room(name, this.#roomContext);
      this.#rooms.set(name, room);
      this.#bus.watch(name);
    }
    return room;
  }

  async #onOpen(connection: Connection): Promise<void> {
    if (!connection.opened() || connection.state !== "connecting") return;
    const ok = await this.#nickLeases.confirm(connection);
    if (connection.state !== "connecting") return;
    if (!ok) {
      connection.close(CLOSE.NICK_TAKEN, "Nickname is held by someone else");
      return;
    }
    connection.room.join(connection);
  }

  #onMessage(connection: Connection, event: MessageEvent): void {
    connection.received();
    if (connection.state === "gone") return;
    const data = event.data;
    if (typeof data !== "string") {
      connection.close(CLOSE.UNSUPPORTED, "Binary frames are not accepted");
      return;
    }
    if (isOversized(data, this.#config.limits.maxFrameBytes)) {
      connection.close(CLOSE.TOO_BIG, "Frame too large");
      return;
    }
    if (this.#moderation?.intercept(connection, data)) return;
    const request = parseClientFrame(data);
    if (request.type === "error") {
      if (!strike(connection, this.#now())) {
        connection.send(errorFrame(request.code, request.message));
      }
      return;
    }
    if (connection.state === "joined") {
      connection.room.accept(connection, request);
    } else if (!connection.hold(request)) {
      connection.close(CLOSE.POLICY, "Too many frames before joining");
    }
  }

  #detach(connection: Connection, previous: ConnectionState): void {
    const { room, session } = connection;
    session.sockets.delete(connection);
    room.leave(connection, previous);
    if (session.sockets.size === 0) {
      session.idleSince = this.#now();
      if (!session.loggedOut && !this.#closing) {
        this.#nickLeases.holdAfterLeaving(session);
      }
    }
  }

  #release(connection: Connection): void {
    if (!this.#live.delete(connection)) return;
    this.#counter.release(connection.ip);
  }

  #tick(): void {
    this.#sessions.prune(this.#now());
    this.#renewLeases();
    if (this.#clustered) this.#sweep();
  }

  async #renewLeases(): Promise<void> {
    if (this.#clustered) {
      const mine: { room: string; sid: string; nickname: string }[] = [];
      for (const room of this.#rooms.values()) {
        for (const user of room.presence.local()) {
          mine.push({ room: room.name, ...user });
        }
      }
      if (mine.length > 0) {
        this.#leases.put(mine).catch((err) =>
          this.#log("Renewing presence failed", { error: String(err) })
        );
      }
    }
    const lost = await this.#nickLeases.renew(this.#sessions.active());
    for (const session of lost) {
      for (const connection of [...session.sockets]) {
        connection.close(CLOSE.NICK_TAKEN, "Nickname is held by someone else");
      }
    }
  }

  /** Reconciles each room's presence with the shared leases, and catches up on messages committed elsewhere. */
  async #sweep(): Promise<void> {
    const history = this.#roomContext.history;
    for (const room of [...this.#rooms.values()]) {
      if (!room.started || this.#closing) continue;
      try {
        room.reconcile(await this.#leases.list(room.name));
        room.catchUp(await history.head(room.name));
      } catch (err) {
        this.#log("Presence sweep failed", {
          room: room.name,
          error: String(err),
        });
      }
    }
  }
}
