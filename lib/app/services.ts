/**
 * The wiring: builds every part one app needs from its config (KV, history,
 * nickname registry, revocations, the bus where its choice is made, the
 * hub) and hands them to the routes.
 *
 * @module
 */
import type { CurrentSessionOptions, Session } from "../auth/session.ts";
import { Hub } from "../chat/hub.ts";
import {
  type Bus,
  createBroadcastBus,
  createMemoryBus,
} from "../cluster/bus.ts";
import { createKvBus } from "../cluster/kv_bus.ts";
import { createKvStore, type HistoryStore } from "../storage/history.ts";
import { openKv } from "../storage/kv.ts";
import {
  createKvNicknameRegistry,
  type NicknameRegistry,
} from "../storage/nickname_registry.ts";
import { createKvPresence } from "../storage/presence_leases.ts";
import { createKvRevocations } from "../storage/revocations.ts";
import { RoomIndex } from "../storage/room_index.ts";
import {
  type AddressResolver,
  createAddressResolver,
} from "../web/client_address.ts";
import type { Config } from "./config.ts";
import { defaultLog, type Logger } from "./log.ts";
import { checkReadiness, type Readiness } from "./readiness.ts";
import { observeGauges } from "./telemetry.ts";
import type * as RedisBus from "../cluster/redis_bus.ts";
import { Moderation } from "../moderation/moderation.ts";

type RedisBusModule = typeof RedisBus;
// A specifier in a variable, so the Redis client (about 15 MB of npm
// packages) is not in the module graph: Deno installs every npm package of
// that graph before starting, and only a REDIS_URL needs this one.
const REDIS_BUS = "../cluster/redis_bus.ts";

/** What the wiring builds and hands to each routes/ module. */
export interface Services {
  config: Config;
  /** This instance's id: the configured name and a random part. */
  instanceId: string;
  hub: Hub;
  /** Room histories in KV, for the routes that read them (scrollback, the room list). */
  history: HistoryStore;
  nicknames: NicknameRegistry;
  /** Moderators, bans, mutes, room rules and the audit log. */
  moderation: Moderation;
  /** How every route reads the session, built once from the config. */
  session: CurrentSessionOptions;
  /** Which rooms exist, and whether an address may make another. */
  rooms: RoomIndex;
  /** The client's address from the peer's and X-Forwarded-For (TRUSTED_PROXIES). */
  resolveAddress: AddressResolver;
  /** The secret new cookies are signed with. */
  signingSecret: string;
  /** Ends a session everywhere: a copy of its cookie is refused from now on and its sockets close. */
  endSession(session: Session): Promise<void>;
  /** Where routes log (logins, logouts, errors). */
  log: Logger;
  /** Whether KV answers a read and the bus reaches the other instances (`/readyz`). */
  ready(): Promise<Readiness>;
}

/** Services plus what only their owner needs: the KV handle and how to stop. */
export interface BuiltServices extends Services {
  kv: Deno.Kv;
  /** Closes every socket (1012), the bus, and the KV handle unless it was passed in. */
  close(): Promise<void>;
}

/** Options for {@linkcode buildServices}. */
export interface BuildOptions {
  /** A KV handle to share (tests run two apps over one); opened from config otherwise. */
  kv?: Deno.Kv;
  log?: Logger;
}

/** A random cookie secret, for a chat started without COOKIE_SECRET. */
export function generateSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Builds every part of one app from `config`. */
export async function buildServices(
  config: Config,
  options: BuildOptions = {},
): Promise<BuiltServices> {
  const log = options.log ?? defaultLog;
  const kv = options.kv ??
    await openKv(config.history.kvPath, {
      requireHosted: config.history.requireHosted,
    });
  // Workers of one `deno serve --parallel` share an environment, so a
  // random part keeps every instance distinct.
  const instanceId = `${config.server.instanceName}-${
    crypto.randomUUID().slice(0, 8)
  }`;
  const history = createKvStore(kv, {
    historySize: config.history.size,
    ttlMs: config.history.ttlDays * 24 * 3600 * 1000,
  });
  const nicknames = createKvNicknameRegistry(kv);
  const { limits } = config;
  const rooms = new RoomIndex(kv, {
    maxRooms: limits.maxRooms,
    ttlMs: config.history.ttlDays * 24 * 3600 * 1000,
    createBurst: limits.roomCreateBurst,
    createPerHour: limits.roomCreatePerHour,
  });
  const revocations = createKvRevocations(kv, {
    ttlMs: config.session.maxAgeSeconds * 1000,
  });
  const bus = await createBus(config, { instanceId, kv, history, log });
  const moderation = new Moderation({
    kv,
    moderators: config.moderation.moderators,
    instance: instanceId,
    sessionMaxAgeSeconds: config.session.maxAgeSeconds,
    nicknames,
    log,
  });
  await moderation.start();
  const hub = new Hub({
    config,
    instance: instanceId,
    history,
    nicknames,
    bus,
    // One process needs no presence leases; several share them through KV.
    leases: config.cluster.bus === "memory" ? undefined : createKvPresence(kv, {
      instance: instanceId,
      ttlMs: config.cluster.presenceTtlSeconds * 1000,
    }),
    log,
    moderation,
  });
  const secrets = config.session.secrets.length > 0
    ? config.session.secrets
    : [generateSecret()];
  const unobserve = observeGauges(hub);
  let closed = false;
  return {
    config,
    instanceId,
    hub,
    history,
    nicknames,
    moderation,
    session: {
      secrets,
      maxAgeSeconds: config.session.maxAgeSeconds,
      revocations,
    },
    rooms,
    resolveAddress: createAddressResolver(config.server.trustedProxies),
    signingSecret: secrets[0],
    async endSession(session) {
      await revocations.revoke(session.sid);
      await hub.logout(session.sid, session.nickname);
    },
    log,
    ready: () => checkReadiness({ kv, bus }),
    kv,
    async close() {
      if (closed) return;
      closed = true;
      unobserve();
      hub.shutdown();
      await moderation.close();
      await bus.close();
      if (!options.kv) kv.close();
    },
  };
}

async function createBus(
  config: Config,
  deps: {
    instanceId: string;
    kv: Deno.Kv;
    history: HistoryStore;
    log: Logger;
  },
): Promise<Bus> {
  const origin = deps.instanceId;
  const { log } = deps;
  switch (config.cluster.bus) {
    case "memory":
      return createMemoryBus();
    case "broadcast":
      return createBroadcastBus({ origin });
    case "kv":
      return createKvBus({ kv: deps.kv, history: deps.history, log });
    case "redis": {
      const { createRedisBus }: RedisBusModule = await import(REDIS_BUS);
      return createRedisBus({
        url: config.cluster.redisUrl!,
        origin,
        log,
      });
    }
  }
}
