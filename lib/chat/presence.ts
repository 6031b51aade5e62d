/**
 * Who is in one room, here and on every other instance. A user is present
 * while at least one instance has a socket of theirs there; instances say
 * so by bus events (prompt) and by KV leases (the truth, read by a sweep).
 * Tombstones keep a stale lease sighting from reviving a user whose leave
 * already arrived. Plain logic over an injected clock, tested in
 * tests/presence_test.ts.
 *
 * @module
 */
import type { PresenceLease } from "../storage/presence_leases.ts";

/** What {@linkcode RoomPresence} needs to know. */
export interface RoomPresenceOptions {
  /** This instance's id: its own sockets are counted, never swept. */
  instance: string;
  /** A lease not renewed for this long is gone. */
  ttlMs: number;
  now(): number;
}

/** The outcome of {@linkcode RoomPresence.addLocal}. */
export interface LocalJoin {
  /** The user's first socket on this instance: lease it and tell the others. */
  firstHere: boolean;
  /** The user was in the room nowhere before: announce a join. */
  joined: boolean;
}

/** The outcome of {@linkcode RoomPresence.removeLocal}. */
export interface LocalLeave {
  nickname: string;
  /** The user's last socket on this instance: drop the lease, tell the others. */
  lastHere: boolean;
  /** The user is now in the room nowhere: announce a leave. */
  left: boolean;
}

/** Who joined and left, by nickname, after a {@linkcode RoomPresence.reconcile}. */
export interface PresenceChanges {
  joined: string[];
  left: string[];
}

interface ClusterEntry {
  nickname: string;
  /**
   * The one instance that confirmed this user, or instance id → when (ms)
   * once there are several: nearly everyone is on one instance, and a Map
   * per user would cost about 170 bytes of heap each.
   */
  where: string | Map<string, number>;
  /** When the one instance in `where` last confirmed this user (ms). */
  at: number;
}

/** Each instance that confirmed `entry`'s user, with when. */
function sightings(entry: ClusterEntry): [string, number][] {
  return typeof entry.where === "string"
    ? [[entry.where, entry.at]]
    : [...entry.where];
}

/** Records that `instance` confirmed `entry`'s user at `at`, keeping the latest. */
function sight(entry: ClusterEntry, instance: string, at: number): void {
  const { where } = entry;
  if (typeof where === "string") {
    if (where === instance) entry.at = Math.max(entry.at, at);
    else entry.where = new Map([[where, entry.at], [instance, at]]);
    return;
  }
  where.set(instance, Math.max(where.get(instance) ?? 0, at));
}

/** Forgets `instance` for `entry`: `removed` is false if it was not there, `empty` true once none is left. */
function unsight(
  entry: ClusterEntry,
  instance: string,
): { removed: boolean; empty: boolean } {
  const { where } = entry;
  if (typeof where === "string") {
    return where === instance
      ? { removed: true, empty: true }
      : { removed: false, empty: false };
  }
  const removed = where.delete(instance);
  return { removed, empty: where.size === 0 };
}

// One collator for every sort: localeCompare would build one per call.
const COLLATOR = new Intl.Collator("und");

/** Local and cluster-wide presence of one room. */
export class RoomPresence {
  #instance: string;
  #ttlMs: number;
  #now: () => number;
  /** Sessions with sockets on this instance: sid → nickname and socket count. */
  #local = new Map<string, { nickname: string; sockets: number }>();
  /** Sessions present on any instance. */
  #cluster = new Map<string, ClusterEntry>();
  /** `instance\0sid` → when that instance said the session left. */
  #tombstones = new Map<string, number>();

  constructor(options: RoomPresenceOptions) {
    this.#instance = options.instance;
    this.#ttlMs = options.ttlMs;
    this.#now = options.now;
  }

  /** Counts one more socket of `sid` on this instance. */
  addLocal(sid: string, nickname: string): LocalJoin {
    const user = this.#local.get(sid);
    if (user) {
      user.sockets++;
      return { firstHere: false, joined: false };
    }
    this.#local.set(sid, { nickname, sockets: 1 });
    return {
      firstHere: true,
      joined: this.#add(sid, nickname, this.#instance, this.#now()),
    };
  }

  /** Counts one socket of `sid` less on this instance; undefined if it had none. */
  removeLocal(sid: string): LocalLeave | undefined {
    const user = this.#local.get(sid);
    if (!user) return undefined;
    if (--user.sockets > 0) {
      return { nickname: user.nickname, lastHere: false, left: false };
    }
    this.#local.delete(sid);
    return {
      nickname: user.nickname,
      lastHere: true,
      left: this.#remove(sid, this.#instance),
    };
  }

  /** Another instance says `sid` joined; true when the user is new to the room. */
  remoteJoin(sid: string, nickname: string, instance: string): boolean {
    this.#tombstones.delete(tombstoneKey(instance, sid));
    return this.#add(sid, nickname, instance, this.#now());
  }

  /** Another instance says `sid` left; the nickname when the user is gone from the room. */
  remoteLeave(sid: string, instance: string): string | undefined {
    this.#tombstones.set(tombstoneKey(instance, sid), this.#now());
    const entry = this.#cluster.get(sid);
    if (entry && this.#remove(sid, instance)) return entry.nickname;
    return undefined;
  }

  /** Takes in the leases found when the room starts here, announcing nobody. */
  seed(leases: Iterable<PresenceLease>): void {
    for (const lease of leases) {
      if (lease.instance === this.#instance) continue;
      this.#add(
        lease.sid,
        lease.nickname,
        lease.instance,
        this.#renewedAt(lease),
      );
    }
  }

  /**
   * Brings presence in line with the live leases: users leased elsewhere
   * join, and users whose every other instance stopped renewing leave.
   */
  reconcile(leases: Iterable<PresenceLease>): PresenceChanges {
    const now = this.#now();
    const changes: PresenceChanges = { joined: [], left: [] };
    for (const [key, at] of this.#tombstones) {
      if (now - at > this.#ttlMs) this.#tombstones.delete(key);
    }
    for (const lease of leases) {
      if (lease.instance === this.#instance) continue;
      if (this.#tombstones.has(tombstoneKey(lease.instance, lease.sid))) {
        continue;
      }
      const at = this.#renewedAt(lease);
      if (this.#add(lease.sid, lease.nickname, lease.instance, at)) {
        changes.joined.push(lease.nickname);
      }
    }
    for (const [sid, entry] of [...this.#cluster]) {
      for (const [instance, at] of sightings(entry)) {
        // A live instance renews every third of the TTL.
        if (instance === this.#instance || now - at <= this.#ttlMs) continue;
        if (this.#remove(sid, instance)) changes.left.push(entry.nickname);
      }
    }
    return changes;
  }

  /** Nicknames present on any instance, sorted for display. */
  nicknames(): string[] {
    const names = [...this.#cluster.values()].map((e) => e.nickname);
    return names.sort((a, b) =>
      COLLATOR.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0)
    );
  }

  /** Session ids present on any instance. */
  sids(): IterableIterator<string> {
    return this.#cluster.keys();
  }

  /** Users present on any instance. */
  get size(): number {
    return this.#cluster.size;
  }

  /** Users with sockets on this instance. */
  get localSize(): number {
    return this.#local.size;
  }

  /** Users with sockets on this instance, for renewing their leases. */
  *local(): IterableIterator<{ sid: string; nickname: string }> {
    for (const [sid, user] of this.#local) {
      yield { sid, nickname: user.nickname };
    }
  }

  /** A lease is as fresh as its last renewal, not as this sighting: an instance that died is gone once its lease runs out. */
  #renewedAt(lease: PresenceLease): number {
    return lease.until - this.#ttlMs;
  }

  /** Records `sid` as present through `instance`; true when the user is new to the room. */
  #add(sid: string, nickname: string, instance: string, at: number): boolean {
    const entry = this.#cluster.get(sid);
    if (entry) {
      sight(entry, instance, at);
      return false;
    }
    this.#cluster.set(sid, { nickname, where: instance, at });
    return true;
  }

  /** Removes `instance` from `sid`'s presence; true when the user has left the room. */
  #remove(sid: string, instance: string): boolean {
    const entry = this.#cluster.get(sid);
    if (!entry) return false;
    const { removed, empty } = unsight(entry, instance);
    if (!removed || !empty) return false;
    this.#cluster.delete(sid);
    return true;
  }
}

function tombstoneKey(instance: string, sid: string): string {
  return `${instance}\u0000${sid}`;
}
