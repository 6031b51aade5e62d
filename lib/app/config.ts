/**
 * Configuration read from the environment and validated once at start.
 *
 * @module
 */

/** Everything the service can be tuned with; see the README's config table. */
export interface Config {
  port: number;
  hostname: string;
  /** The first secret signs, every one verifies (rotation). */
  cookieSecrets: string[];
  /** True when COOKIE_SECRET was unset and a random secret was made. */
  cookieSecretGenerated: boolean;
  sessionMaxAgeSeconds: number;
  allowedOrigins: string[];
  nickGraceSeconds: number;
  maxFrameBytes: number;
  maxMessageChars: number;
  rateBurst: number;
  ratePerSecond: number;
  maxConnectionsPerIp: number;
  maxConnections: number;
  slowClientBytes: number;
  idleTimeoutSeconds: number;
  kvPath: string | undefined;
  historySize: number;
  historyTtlDays: number;
  historyOnJoin: number;
  batchMs: number;
  workers: number;
  redisUrl: string | undefined;
  bus: "memory" | "broadcast" | "redis" | "kv";
  presenceTtlSeconds: number;
  /** Lets an operator tell the server where a log line comes from. */
  instanceId: string;
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

interface IntSpec {
  name: string;
  fallback: number;
  min: number;
  max: number;
}

function readNumber(
  env: Record<string, string | undefined>,
  spec: IntSpec & { whole?: boolean },
  problems: string[],
): number {
  const raw = env[spec.name]?.trim();
  if (raw === undefined || raw === "") return spec.fallback;
  const whole = spec.whole ?? true;
  if (!(whole ? /^-?\d+$/ : /^-?\d+(\.\d+)?$/).test(raw)) {
    problems.push(
      `Invalid ${spec.name} "${raw}": expected ${
        whole ? "a whole number" : "a number"
      }`,
    );
    return spec.fallback;
  }
  const value = Number(raw);
  if (value < spec.min || value > spec.max) {
    problems.push(
      `Invalid ${spec.name} "${raw}": must be between ${spec.min} and ${spec.max}`,
    );
    return spec.fallback;
  }
  return value;
}

function randomSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function readOrigins(raw: string | undefined, problems: string[]): string[] {
  if (!raw?.trim()) return [];
  const origins: string[] = [];
  for (const part of raw.split(",")) {
    const item = part.trim();
    if (!item) continue;
    let url: URL;
    try {
      url = new URL(item);
    } catch {
      problems.push(
        `Invalid ALLOWED_ORIGINS entry "${item}": expected an origin like https://chat.example.com`,
      );
      continue;
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      problems.push(
        `Invalid ALLOWED_ORIGINS entry "${item}": only http and https origins are allowed`,
      );
      continue;
    }
    origins.push(url.origin);
  }
  return origins;
}

function readWorkers(
  raw: string | undefined,
  problems: string[],
  cores: number,
): number {
  const value = raw?.trim();
  if (!value) return 1;
  if (value === "auto") return Math.max(1, cores);
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 256) {
    problems.push(
      `Invalid WORKERS "${value}": expected "auto" or a whole number from 1 to 256`,
    );
    return 1;
  }
  return Number(value);
}

/**
 * Reads and validates the configuration from an environment map, collecting
 * every problem before throwing so an operator fixes them all at once.
 */
export function loadConfig(
  env: Record<string, string | undefined>,
  options: { cores?: number } = {},
): Config {
  const problems: string[] = [];
  const int = (name: string, fallback: number, min: number, max: number) =>
    readNumber(env, { name, fallback, min, max }, problems);

  const secretsRaw = env.COOKIE_SECRET?.trim();
  let cookieSecrets: string[] = [];
  let cookieSecretGenerated = false;
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
  } else {
    cookieSecrets = [randomSecret()];
    cookieSecretGenerated = true;
  }

  const hostname = env.HOSTNAME?.trim() || "0.0.0.0";
  const kvRaw = env.KV_PATH?.trim();
  const redisUrl = env.REDIS_URL?.trim() || undefined;
  if (redisUrl && !/^rediss?:\/\//.test(redisUrl)) {
    problems.push(
      `Invalid REDIS_URL "${redisUrl}": expected redis://host:port or rediss://host:port`,
    );
  }
  const busRaw = env.BUS?.trim() || "";
  const workers = readWorkers(
    env.WORKERS,
    problems,
    options.cores ?? navigator.hardwareConcurrency,
  );
  // On Deno Deploy every isolate is its own process and KV is global.
  let bus: Config["bus"] = redisUrl
    ? "redis"
    : workers > 1
    ? "broadcast"
    : env.DENO_DEPLOYMENT_ID
    ? "kv"
    : "memory";
  if (busRaw) {
    if (["memory", "broadcast", "redis", "kv"].includes(busRaw)) {
      bus = busRaw as Config["bus"];
      if (bus === "redis" && !redisUrl) {
        problems.push(`Invalid BUS "redis": REDIS_URL must be set too`);
      }
    } else {
      problems.push(
        `Invalid BUS "${busRaw}": expected memory, broadcast, redis or kv`,
      );
    }
  }

  const config: Config = {
    port: int("PORT", 8000, 0, 65535),
    hostname,
    cookieSecrets,
    cookieSecretGenerated,
    sessionMaxAgeSeconds: int(
      "SESSION_MAX_AGE_SECONDS",
      7 * 24 * 3600,
      60,
      365 * 24 * 3600,
    ),
    allowedOrigins: readOrigins(env.ALLOWED_ORIGINS, problems),
    nickGraceSeconds: int("NICK_GRACE_SECONDS", 30, 0, 86400),
    maxFrameBytes: int("MAX_FRAME_BYTES", 16384, 256, 16 * 1024 * 1024),
    maxMessageChars: int("MAX_MESSAGE_CHARS", 2000, 1, 100000),
    rateBurst: int("RATE_BURST", 10, 1, 1e9),
    ratePerSecond: readNumber(
      env,
      {
        name: "RATE_PER_SECOND",
        fallback: 1,
        min: 0.001,
        max: 1e9,
        whole: false,
      },
      problems,
    ),
    maxConnectionsPerIp: int("MAX_CONNECTIONS_PER_IP", 20, 1, 1e9),
    maxConnections: int("MAX_CONNECTIONS", 10000, 1, 1e9),
    slowClientBytes: int("SLOW_CLIENT_BYTES", 1024 * 1024, 1024, 2 ** 40),
    idleTimeoutSeconds: int("IDLE_TIMEOUT_SECONDS", 30, 0, 3600),
    // Deno Deploy has no local disk: its KV is opened without a path.
    kvPath: kvRaw === "default" || (!kvRaw && env.DENO_DEPLOYMENT_ID)
      ? undefined
      : kvRaw || "./data/chat.db",
    historySize: int("HISTORY_SIZE", 200, 1, 100000),
    historyTtlDays: int("HISTORY_TTL_DAYS", 30, 1, 3650),
    historyOnJoin: int("HISTORY_ON_JOIN", 50, 0, 100000),
    batchMs: int("BATCH_MS", 0, 0, 1000),
    workers,
    redisUrl,
    bus,
    presenceTtlSeconds: int("PRESENCE_TTL_SECONDS", 15, 2, 3600),
    // Workers of one `deno serve --parallel` share an environment, so a
    // random part keeps every instance distinct.
    instanceId: `${env.INSTANCE_ID?.trim() || "chat"}-${
      crypto.randomUUID().slice(0, 8)
    }`,
  };
  if (config.workers > 1 && config.kvPath === ":memory:") {
    problems.push(
      `Invalid KV_PATH ":memory:" with WORKERS "${config.workers}": workers must share one KV file`,
    );
  }
  if (config.historyOnJoin > config.historySize) {
    problems.push(
      `Invalid HISTORY_ON_JOIN "${config.historyOnJoin}": must not exceed HISTORY_SIZE (${config.historySize})`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
