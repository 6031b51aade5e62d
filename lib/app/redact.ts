/**
 * What of the configuration may be shown: URLs without their passwords and
 * a start-up summary without secrets. Every log line, config error and
 * summary that names a URL goes through {@linkcode redactUrl}.
 *
 * @module
 */
import type { Config } from "./config.ts";

const HIDDEN = "***";
const SECRET_PARAM = /pass|secret|token|key|auth/i;

/** `url` with any password (in its userinfo or its query) replaced by `***`. */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Not a URL: still hide whatever sits between "//user:" and "@".
    return url.replace(/(\/\/[^/:@]*:)[^@/]*@/, `$1${HIDDEN}@`);
  }
  if (parsed.password) parsed.password = HIDDEN;
  for (const key of [...parsed.searchParams.keys()]) {
    if (SECRET_PARAM.test(key)) parsed.searchParams.set(key, HIDDEN);
  }
  return parsed.href;
}

/** The settings an operator checks at start, as log fields: no secret, no password. */
export function configSummary(config: Config): Record<string, unknown> {
  const { server, session, history, cluster, limits } = config;
  return {
    host: server.hostname,
    port: server.port,
    workers: server.workers,
    instance: server.instanceName,
    logLevel: config.log.level,
    cookieSecret: session.secrets.length > 0
      ? `set (${session.secrets.length})`
      : "generated",
    allowedOrigins: session.allowedOrigins,
    kv: history.kvPath === undefined ? "default" : redactUrl(history.kvPath),
    bus: cluster.bus,
    redis: cluster.redisUrl === undefined
      ? undefined
      : redactUrl(cluster.redisUrl),
    maxConnections: limits.maxConnections,
    maxConnectionsPerIp: limits.maxConnectionsPerIp,
  };
}
