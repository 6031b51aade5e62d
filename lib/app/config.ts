/**
 * Configuration read from the environment and validated once at start.
 *
 * @module
 */
import type { LogLevel } from "./log.ts";
import { redactUrl } from "./redact.ts";
import type { PasswordHash } from "../auth/passwords.ts";
import {
  readLogLevel,
  readModerators,
  readNumber,
  readOrigins,
  readPublicOrigin,
  readTrustedProxies,
  readWorkers,
} from "./config_readers.ts";

/** Where and how the process listens. */
export interface ServerConfig {
  port: number;
  /** From HOST: HOSTNAME is the container's name under Docker and Kubernetes. */
  hostname: string;
  /** Processes `deno task start` runs (`deno serve --parallel`). */
  workers: number;
  /** Names this deployment in logs and /healthz; each instance adds a random part. */
  instanceName: string;
  /** On Deno Deploy: the platform routes by Host, so only a foreign name never arrives. */
  routedByHost: boolean;
  /** Proxy hops (addresses, CIDRs, `loopback`, ...) whose X-Forwarded-For is believed. */
  trustedProxies: string[];
}

/** The signed session cookie and who may use it. */
export interface SessionConfig {
  /** The first secret signs, every one verifies (rotation); empty: one is made at start. */
  secrets: string[];
  maxAgeSeconds: number;
  /** Origins besides the page's own that may log in and open sockets (PUBLIC_ORIGIN is one). */
  allowedOrigins: string[];
  /** Where people reach the chat (PUBLIC_ORIGIN): requests for any other Host get 421. */
  publicOrigin: string | undefined;
}

/** Nickname leases. */
export interface NicknameConfig {
  /** How long a name stays reserved after its last socket closes. */
  graceSeconds: number;
}

/** What one user, address or socket may use. */
export interface LimitsConfig {
  maxFrameBytes: number;
  maxMessageChars: number;
  rateBurst: number;
  ratePerSecond: number;
  maxConnectionsPerIp: number;
  maxConnections: number;
  /** Logins one address may post at once (a token bucket per address). */
  loginBurst: number;
  loginPerMinute: number;
  /** Messages one address may post across all its sessions (a token bucket per address). */
  addressRateBurst: number;
  addressRatePerSecond: number;
  /** New rooms one address may create (a token bucket per address). */
  roomCreateBurst: number;
  roomCreatePerHour: number;
  /** Rooms with stored history at most: storage is bounded by this × HISTORY_SIZE. */
  maxRooms: number;
  /** Scrollback pages one address may read at once (a token bucket per address). */
  scrollbackBurst: number;
  scrollbackPerSecond: number;
  slowClientBytes: number;
  idleTimeoutSeconds: number;
  /** How long after posting a message its author may edit it. */
  editWindowMinutes: number;
}

/** Durable room history in KV. */
export interface HistoryConfig {
  /** A KV file, `:memory:`, a KV Connect URL, or undefined for the platform's default KV. */
  kvPath: string | undefined;
  /** On Deno Deploy: the default KV must be the hosted database, not a per-instance fallback. */
  requireHosted: boolean;
  size: number;
  ttlDays: number;
  onJoin: number;
}

/** Coalescing of a room's events into frames. */
export interface FanoutConfig {
  /** 0: flush on the next microtask; more: gather that many ms first. */
  batchMs: number;
}

/** The bus names of {@linkcode ClusterConfig.bus}. */
export type BusName = "memory" | "broadcast" | "redis" | "kv";

/** How instances reach each other. */
export interface ClusterConfig {
  bus: BusName;
  redisUrl: string | undefined;
  presenceTtlSeconds: number;
}

/** What is logged. */
export interface LogConfig {
  level: LogLevel;
}

/** One configured moderator: the reserved nickname and its password hash. */
export interface ModeratorAccount {
  nickname: string;
  hash: PasswordHash;
}

/** Who moderates, from MODERATORS. */
export interface ModerationConfig {
  moderators: ModeratorAccount[];
}

/** Everything the service can be tuned with, by area; see the README's config table. */
export interface Config {
  server: ServerConfig;
  session: SessionConfig;
  nicknames: NicknameConfig;
  limits: LimitsConfig;
  history: HistoryConfig;
  fanout: FanoutConfig;
  cluster: ClusterConfig;
  log: LogConfig;
  moderation: ModerationConfig;
}

/** Raised by {@linkcode loadConfig} with one line per bad value. */
export class ConfigError extends Error {
  /** One message per bad variable. */
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/** Minimum length of each cookie secret, so HMAC keys are not guessable. */
export const MIN_SECRET_LENGTH = 32;

/** What Deno Deploy cannot run with: each instance would be a chat of its own. */
function deployProblems(config: Config): string[] {
  const problems: string[] = [];
  if (config.session.secrets.length === 0) {
    problems.push(
      "Missing COOKIE_SECRET on Deno Deploy: every instance must sign sessions with the same secret; set one of at least 32 characters (openssl rand -hex 32) as a secret in the app's environment variables",
    );
  }
  const path = config.history.kvPath;
  if (path !== undefined && !/^https?:\/\//.test(path)) {
    problems.push(
      `Invalid KV_PATH "${path}" on Deno Deploy: each instance would have a store of its own; unset KV_PATH and assign a Deno KV database to the app`,
    );
  }
  return problems;
}

/**
 * Reads and validates the configuration from an environment map, collecting
 * every problem before throwing so an operator fixes them all at once. Pure:
 * what must be random (a missing secret, the instance id) is made at start.
 */
export function loadConfig(
  env: Record<string, string | undefined>,
  options: { cores?: number } = {},
): Config {
  const problems: string[] = [];
  const int = (name: string, fallback: number, min: number, max: number) =>
    readNumber(env, { name, fallback, min, max }, problems);
  // A refill rate: fractions allowed, never zero (a bucket that never refills).
  const rate = (name: string, fallback: number) =>
    readNumber(
      env,
      { name, fallback, min: 0.001, max: 1e9, whole: false },
      problems,
    );

  const secretsRaw = env.COOKIE_SECRET?.trim();
  let cookieSecrets: string[] = [];
  if (secretsRaw) {
    cookieSecrets = secretsRaw.split(",").map((s) => s.trim()).filter((s) => s);
    cookieSecrets.forEach((secret, i) => {
      if (secret.length < MIN_SECRET_LENGTH) {
        problems.push(
          `Invalid COOKIE_SECRET secret #${
            i + 1
          }: it has ${secret.length} characters, at least ${MIN_SECRET_LENGTH} are required`,
        );
      }
    });
  }

  // Not HOSTNAME: Docker and Kubernetes set it to the container's name.
  const hostname = env.HOST?.trim() || "0.0.0.0";
  const onDeploy = Boolean(env.DENO_DEPLOYMENT_ID?.trim());
  const kvRaw = env.KV_PATH?.trim();
  const redisUrl = env.REDIS_URL?.trim() || undefined;
  if (redisUrl && !/^rediss?:\/\//.test(redisUrl)) {
    problems.push(
      `Invalid REDIS_URL "${
        redactUrl(redisUrl)
      }": expected redis://host:port or rediss://host:port`,
    );
  }
  const busRaw = env.BUS?.trim() || "";
  const workers = readWorkers(
    env.WORKERS,
    problems,
    options.cores ?? navigator.hardwareConcurrency,
  );
  // On Deno Deploy every instance is its own process and KV is global.
  let bus: BusName = redisUrl
    ? "redis"
    : workers > 1
    ? "broadcast"
    : onDeploy
    ? "kv"
    : "memory";
  if (busRaw) {
    if (["memory", "broadcast", "redis", "kv"].includes(busRaw)) {
      bus = busRaw as BusName;
      if (bus === "redis" && !redisUrl) {
        problems.push(`Invalid BUS "redis": REDIS_URL must be set too`);
      }
    } else {
      problems.push(
        `Invalid BUS "${busRaw}": expected memory, broadcast, redis or kv`,
      );
    }
  }

  // Read in the order the problems have always been reported in.
  const port = int("PORT", 8000, 0, 65535);
  const sessionMaxAge = int(
    "SESSION_MAX_AGE_SECONDS",
    7 * 24 * 3600,
    60,
    365 * 24 * 3600,
  );
  const allowedOrigins = readOrigins(env.ALLOWED_ORIGINS, problems);
  const publicOrigin = readPublicOrigin(env.PUBLIC_ORIGIN, problems);
  if (publicOrigin && !allowedOrigins.includes(publicOrigin)) {
    allowedOrigins.push(publicOrigin);
  }
  const config: Config = {
    server: {
      port,
      hostname,
      workers,
      instanceName: env.INSTANCE_ID?.trim() || "chat",
      routedByHost: onDeploy,
      trustedProxies: readTrustedProxies(env.TRUSTED_PROXIES, problems),
    },
    session: {
      secrets: cookieSecrets,
      maxAgeSeconds: sessionMaxAge,
      allowedOrigins,
      publicOrigin,
    },
    nicknames: { graceSeconds: int("NICK_GRACE_SECONDS", 30, 0, 86400) },
    limits: {
      maxFrameBytes: int("MAX_FRAME_BYTES", 16384, 256, 16 * 1024 * 1024),
      maxMessageChars: int("MAX_MESSAGE_CHARS", 2000, 1, 100000),
      rateBurst: int("RATE_BURST", 10, 1, 1e9),
      ratePerSecond: rate("RATE_PER_SECOND", 1),
      maxConnectionsPerIp: int("MAX_CONNECTIONS_PER_IP", 20, 1, 1e9),
      maxConnections: int("MAX_CONNECTIONS", 10000, 1, 1e9),
      loginBurst: int("LOGIN_RATE_BURST", 10, 1, 1e9),
      loginPerMinute: rate("LOGIN_RATE_PER_MINUTE", 20),
      addressRateBurst: int("ADDRESS_RATE_BURST", 30, 1, 1e9),
      addressRatePerSecond: rate("ADDRESS_RATE_PER_SECOND", 5),
      roomCreateBurst: int("ROOM_CREATE_BURST", 5, 1, 1e9),
      roomCreatePerHour: rate("ROOM_CREATE_PER_HOUR", 20),
      maxRooms: int("MAX_ROOMS", 1000, 1, 1e7),
      scrollbackBurst: int("SCROLLBACK_RATE_BURST", 30, 1, 1e9),
      scrollbackPerSecond: rate("SCROLLBACK_RATE_PER_SECOND", 2),
      slowClientBytes: int("SLOW_CLIENT_BYTES", 1024 * 1024, 1024, 2 ** 40),
      idleTimeoutSeconds: int("IDLE_TIMEOUT_SECONDS", 30, 0, 3600),
      editWindowMinutes: int("EDIT_WINDOW_MINUTES", 15, 0, 525600),
    },
    history: {
      // Deno Deploy has no local disk: its KV is opened without a path.
      kvPath: kvRaw === "default" || (!kvRaw && onDeploy)
        ? undefined
        : kvRaw || "./data/chat.db",
      requireHosted: onDeploy && (!kvRaw || kvRaw === "default"),
      size: int("HISTORY_SIZE", 200, 1, 100000),
      ttlDays: int("HISTORY_TTL_DAYS", 30, 1, 3650),
      onJoin: int("HISTORY_ON_JOIN", 50, 0, 100000),
    },
    fanout: { batchMs: int("BATCH_MS", 0, 0, 1000) },
    cluster: {
      bus,
      redisUrl,
      presenceTtlSeconds: int("PRESENCE_TTL_SECONDS", 15, 2, 3600),
    },
    log: { level: readLogLevel(env.LOG_LEVEL, problems) },
    moderation: { moderators: readModerators(env.MODERATORS, problems) },
  };
  if (onDeploy) problems.push(...deployProblems(config));
  const { history } = config;
  if (workers > 1 && history.kvPath === ":memory:") {
    problems.push(
      `Invalid KV_PATH ":memory:" with WORKERS "${workers}": workers must share one KV file`,
    );
  }
  if (history.onJoin > history.size) {
    problems.push(
      `Invalid HISTORY_ON_JOIN "${history.onJoin}": must not exceed HISTORY_SIZE (${history.size})`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
