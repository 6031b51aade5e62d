/**
 * The moderation part of `deno task kv-export` / `kv-import`: bans, mutes,
 * each room's rules (slow mode, lock, topic) and the audit log, each as a
 * line kind of its own. Bans and mutes that have run out are left behind;
 * on import what the target already holds wins, so a re-run writes nothing.
 *
 * @module
 */
import { isRoomName } from "../chat/protocol.ts";
import { AUDIT_ID_PATTERN, type AuditEntry } from "../moderation/audit_log.ts";
import type { BanRecord } from "../moderation/bans.ts";
import {
  DURATIONS,
  MAX_REASON_CHARS,
  MAX_SLOW_SECONDS,
} from "../moderation/mod_frames.ts";
import type { Mute, RoomRules } from "../moderation/room_state.ts";
import { KEYS } from "./keys.ts";

/** A line of moderation state in an export. */
export type ModerationLine =
  | { kind: "ban"; ban: BanRecord }
  | { kind: "mute"; key: string; mute: Mute }
  | { kind: "room_rules"; room: string; rules: RoomRules }
  | { kind: "audit"; entry: AuditEntry };

/** The line kinds of this module. */
export const MODERATION_KINDS: ReadonlySet<string> = new Set([
  "ban",
  "mute",
  "room_rules",
  "audit",
]);

/** How many of each kind an export wrote or an import added. */
export interface ModerationCounts {
  bans: number;
  mutes: number;
  rooms: number;
  audit: number;
}

// One atomic operation sets a ban and a pointer per session and address;
// Deno KV allows 1000 mutations in one.
const MAX_BAN_POINTERS = 900;

/** Writes every ban and mute in force, every room's rules and the whole audit log, oldest entry first. */
export async function exportModeration(
  kv: Deno.Kv,
  emit: (line: ModerationLine) => void | Promise<void>,
  now: number,
): Promise<ModerationCounts> {
  const counts: ModerationCounts = { bans: 0, mutes: 0, rooms: 0, audit: 0 };
  const bans = kv.list<BanRecord>({ prefix: [...KEYS.banPrefix, "nick"] });
  for await (const { value } of bans) {
    if (!inForce(value.until, now)) continue;
    await emit({ kind: "ban", ban: value });
    counts.bans++;
  }
  for await (const e of kv.list<Mute>({ prefix: KEYS.mutePrefix })) {
    const key = e.key[1];
    if (typeof key !== "string" || !inForce(e.value.until, now)) continue;
    await emit({ kind: "mute", key, mute: e.value });
    counts.mutes++;
  }
  for await (const e of kv.list<RoomRules>({ prefix: KEYS.roomRulesPrefix })) {
    const room = e.key[1];
    if (typeof room !== "string") continue;
    await emit({ kind: "room_rules", room, rules: e.value });
    counts.rooms++;
  }
  const audit = kv.list<AuditEntry>({ prefix: KEYS.auditPrefix }, {
    batchSize: 200,
  });
  for await (const { value } of audit) {
    await emit({ kind: "audit", entry: value });
    counts.audit++;
  }
  return counts;
}

/**
 * Writes one line's state into `kv` unless the target has its own there
 * already or it ran out before `now`; whether it was written.
 */
export async function importModerationLine(
  kv: Deno.Kv,
  line: ModerationLine,
  now: number,
): Promise<boolean> {
  switch (line.kind) {
    case "ban": {
      const { ban } = line;
      if (!inForce(ban.until, now)) return false;
      // The same keys and expiry as BanStore writes
      const options = expiry(ban.until, now);
      const pointer = { key: ban.key };
      let op = kv.atomic()
        .check({ key: KEYS.banByNick(ban.key), versionstamp: null })
        .set(KEYS.banByNick(ban.key), ban, options);
      for (const sid of ban.sids) {
        op = op.set(KEYS.banBySession(sid), pointer, options);
      }
      for (const ip of ban.ips) {
        op = op.set(KEYS.banByAddress(ip), pointer, options);
      }
      return (await op.commit()).ok;
    }
    case "mute":
      if (!inForce(line.mute.until, now)) return false;
      return await setIfAbsent(
        kv,
        KEYS.mute(line.key),
        line.mute,
        expiry(line.mute.until, now),
      );
    case "room_rules":
      return await setIfAbsent(kv, KEYS.roomRules(line.room), line.rules, {});
    case "audit":
      return await setIfAbsent(kv, KEYS.audit(line.entry.id), line.entry, {});
  }
}

/**
 * Checks a moderation line of an untrusted export; `bad` makes the error
 * that names the line.
 */
export function parseModerationLine(
  v: Record<string, unknown>,
  bad: (why: string) => Error,
): ModerationLine {
  switch (v.kind) {
    case "ban":
      return { kind: "ban", ban: checkBan(v.ban, bad) };
    case "mute": {
      const mute = object(v.mute);
      if (
        !isName(v.key) || !mute || !isName(mute.nickname) ||
        !isUntil(mute.until)
      ) throw bad("expected a mute with key, nickname and until");
      return {
        kind: "mute",
        key: v.key,
        mute: { nickname: mute.nickname, until: mute.until },
      };
    }
    case "room_rules": {
      if (typeof v.room !== "string" || !isRoomName(v.room)) {
        throw bad(`invalid room ${JSON.stringify(v.room)}`);
      }
      const rules = object(v.rules);
      const seconds = rules?.slowSeconds;
      if (
        !rules || !Number.isInteger(seconds) || (seconds as number) < 0 ||
        (seconds as number) > MAX_SLOW_SECONDS ||
        typeof rules.locked !== "boolean" || !isShortText(rules.topic)
      ) {
        throw bad(
          `expected rules with slowSeconds (0 to ${MAX_SLOW_SECONDS}), locked and a topic of at most ${MAX_REASON_CHARS} characters`,
        );
      }
      return {
        kind: "room_rules",
        room: v.room,
        rules: {
          slowSeconds: seconds as number,
          locked: rules.locked,
          topic: rules.topic as string,
        },
      };
    }
    case "audit":
      return { kind: "audit", entry: checkAudit(v.entry, bad) };
    default:
      throw bad(`unknown kind ${JSON.stringify(v.kind)}`);
  }
}

function checkBan(raw: unknown, bad: (why: string) => Error): BanRecord {
  const b = object(raw);
  const strings = (list: unknown): list is string[] =>
    Array.isArray(list) && list.every(isName);
  if (
    !b || !isName(b.nickname) || !isName(b.key) || !strings(b.sids) ||
    !strings(b.ips) || !isUntil(b.until) || !isName(b.by) ||
    !Number.isFinite(b.at) ||
    (b.reason !== undefined && !isShortText(b.reason))
  ) {
    throw bad(
      "expected a ban with nickname, key, sids, ips, until, by and at",
    );
  }
  if (b.sids.length + b.ips.length > MAX_BAN_POINTERS) {
    throw bad(
      `a ban covering more than ${MAX_BAN_POINTERS} sessions and addresses`,
    );
  }
  const ban: BanRecord = {
    nickname: b.nickname,
    key: b.key,
    sids: b.sids,
    ips: b.ips,
    until: b.until,
    by: b.by,
    at: b.at as number,
  };
  if (b.reason !== undefined) ban.reason = b.reason as string;
  return ban;
}

function checkAudit(raw: unknown, bad: (why: string) => Error): AuditEntry {
  const e = object(raw);
  if (
    !e || typeof e.id !== "string" || !AUDIT_ID_PATTERN.test(e.id) ||
    !Number.isFinite(e.at) || !isName(e.by) || !isName(e.action)
  ) throw bad("expected an audit entry with id, at, by and action");
  const entry: AuditEntry = {
    id: e.id,
    at: e.at as number,
    by: e.by,
    action: e.action,
  };
  const optional: [keyof AuditEntry, (x: unknown) => boolean][] = [
    ["target", isName],
    ["room", (x) => typeof x === "string" && isRoomName(x)],
    ["reason", isShortText],
    ["duration", (x) => typeof x === "string" && Object.hasOwn(DURATIONS, x)],
    ["until", isUntil],
    ["seconds", (x) => Number.isInteger(x) && (x as number) >= 0],
    ["text", isShortText],
    ["message", (x) => Number.isSafeInteger(x) && (x as number) > 0],
  ];
  for (const [field, ok] of optional) {
    if (e[field] === undefined) continue;
    if (!ok(e[field])) {
      throw bad(`invalid audit ${field} ${JSON.stringify(e[field])}`);
    }
    Object.assign(entry, { [field]: e[field] });
  }
  return entry;
}

function object(x: unknown): Record<string, unknown> | undefined {
  return typeof x === "object" && x !== null && !Array.isArray(x)
    ? x as Record<string, unknown>
    : undefined;
}

function isName(x: unknown): x is string {
  return typeof x === "string" && x !== "" && x.length <= 256;
}

function isShortText(x: unknown): x is string {
  return typeof x === "string" && [...x].length <= MAX_REASON_CHARS;
}

function isUntil(x: unknown): x is number | null {
  return x === null || Number.isFinite(x);
}

function inForce(until: number | null, now: number): boolean {
  return until === null || until > now;
}

// Expiry only cleans up, as in the stores: `until` decides.
function expiry(until: number | null, now: number): { expireIn?: number } {
  return until === null ? {} : { expireIn: Math.max(1000, until - now) };
}

async function setIfAbsent(
  kv: Deno.Kv,
  key: Deno.KvKey,
  value: unknown,
  options: { expireIn?: number },
): Promise<boolean> {
  const result = await kv.atomic().check({ key, versionstamp: null })
    .set(key, value, options).commit();
  return result.ok;
}
