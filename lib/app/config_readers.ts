/**
 * Readers of one kind of environment value each, for loadConfig
 * (config.ts): each returns what it read, or a safe fallback and a line in
 * `problems`, so every bad variable is reported at once.
 *
 * @module
 */
import { LOG_LEVELS, type LogLevel } from "./log.ts";
import { checkTrustedProxies } from "../web/client_address.ts";
import { nicknameKey, validateNickname } from "../auth/nicknames.ts";
import { parsePasswordHash } from "../auth/passwords.ts";
import type { ModeratorAccount } from "./config.ts";

/** A whole (or, with `whole: false`, any) number variable and its bounds. */
export interface IntSpec {
  name: string;
  fallback: number;
  min: number;
  max: number;
}

/** Reads a number variable within its bounds; the fallback when unset or bad (with a problem). */
export function readNumber(
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

/** Reads a comma-separated list of http(s) origins. */
export function readOrigins(
  raw: string | undefined,
  problems: string[],
  name = "ALLOWED_ORIGINS entry",
): string[] {
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
        `Invalid ${name} "${item}": expected an origin like https://chat.example.com`,
      );
      continue;
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      problems.push(
        `Invalid ${name} "${item}": only http and https origins are allowed`,
      );
      continue;
    }
    origins.push(url.origin);
  }
  return origins;
}

/** Reads PUBLIC_ORIGIN: one origin, or none. */
export function readPublicOrigin(
  raw: string | undefined,
  problems: string[],
): string | undefined {
  if (raw?.includes(",")) {
    problems.push(`Invalid PUBLIC_ORIGIN "${raw.trim()}": expected one origin`);
    return undefined;
  }
  return readOrigins(raw, problems, "PUBLIC_ORIGIN")[0];
}

/** Reads WORKERS: "auto" (one per core) or 1 to 256. */
export function readWorkers(
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

/** Reads LOG_LEVEL, "info" when unset. */
export function readLogLevel(
  raw: string | undefined,
  problems: string[],
): LogLevel {
  const value = raw?.trim().toLowerCase();
  if (!value) return "info";
  if ((LOG_LEVELS as readonly string[]).includes(value)) {
    return value as LogLevel;
  }
  problems.push(
    `Invalid LOG_LEVEL "${raw!.trim()}": expected ${LOG_LEVELS.join(", ")}`,
  );
  return "info";
}

/**
 * Parses MODERATORS: `nickname:hash` pairs, comma-separated. A problem names
 * the entry and the nickname, never the hash.
 */
export function readModerators(
  raw: string | undefined,
  problems: string[],
): ModeratorAccount[] {
  const out: ModeratorAccount[] = [];
  const keys = new Set<string>();
  const entries = (raw ?? "").split(",").map((e) => e.trim()).filter((e) => e);
  entries.forEach((entry, i) => {
    const at = `Invalid MODERATORS entry #${i + 1}`;
    const colon = entry.lastIndexOf(":");
    if (colon <= 0) {
      problems.push(`${at}: expected nickname:hash`);
      return;
    }
    const name = validateNickname(entry.slice(0, colon));
    if (!name.ok) {
      problems.push(`${at}: ${name.message}`);
      return;
    }
    const hash = parsePasswordHash(entry.slice(colon + 1).trim());
    if (!hash.ok) {
      problems.push(`${at} for "${name.nickname}": ${hash.why}`);
      return;
    }
    const key = nicknameKey(name.nickname);
    if (keys.has(key)) {
      problems.push(
        `${at} for "${name.nickname}": it is the same name as an earlier entry`,
      );
      return;
    }
    keys.add(key);
    out.push({ nickname: name.nickname, hash: hash.value });
  });
  return out;
}

/** Reads TRUSTED_PROXIES: addresses, CIDRs or proxy-addr's names, checked at start. */
export function readTrustedProxies(
  raw: string | undefined,
  problems: string[],
): string[] {
  const entries = (raw ?? "").split(",").map((s) => s.trim()).filter((s) => s);
  const problem = checkTrustedProxies(entries);
  if (problem) {
    problems.push(
      `Invalid TRUSTED_PROXIES "${raw?.slice(0, 200)}": ${problem}`,
    );
    return [];
  }
  return entries;
}
