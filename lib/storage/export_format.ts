/**
 * The export format: what each JSON line of `deno task kv-export` holds, and
 * the parser that checks an untrusted line before anything is written.
 *
 * @module
 */
import { isRoomName, parseJsonObject } from "../chat/protocol.ts";
import { EPOCH_PATTERN } from "./history.ts";
import { checkExtra, type StoredExtra } from "./message_state.ts";
import {
  MODERATION_KINDS,
  type ModerationLine,
  parseModerationLine,
} from "./moderation_backup.ts";

/** The first line of every export; a change of format bumps the version. */
export const EXPORT_FORMAT = "deno-chat-export";
/** The format's version; an import refuses any other. */
export const EXPORT_VERSION = 1;

/** One line of an export. */
export type ExportLine =
  | { kind: "header"; format: string; version: number; exportedAt: number }
  | { kind: "room"; room: string; head: number; epoch?: string }
  | {
    kind: "message";
    room: string;
    id: number;
    nickname: string;
    text: string;
    ts: number;
    cid?: string;
    /** What makes the record a change or a reply, and its author (message_state.ts). */
    extra?: StoredExtra;
  }
  | { kind: "revoked"; sid: string }
  /** Bans, mutes, room rules and audit entries (moderation_backup.ts). */
  | ModerationLine;

/** A message line of an export. */
export type MessageLine = Extract<ExportLine, { kind: "message" }>;

/** Thrown for a line that is not part of a valid export; nothing of that line was written. */
export class ImportError extends Error {
  override name = "ImportError";
}

/** Parses and checks line `lineNo` of an export. */
export function parseLine(raw: string, lineNo: number): ExportLine {
  const bad = (why: string) =>
    new ImportError(`Invalid line ${lineNo}: ${why}`);
  const parsed = parseJsonObject(raw);
  if (!parsed.ok) throw bad(parsed.why);
  const v = parsed.value;
  const isId = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;
  const room = () => {
    if (typeof v.room !== "string" || !isRoomName(v.room)) {
      throw bad(`invalid room ${JSON.stringify(v.room)}`);
    }
    return v.room;
  };
  switch (v.kind) {
    case "header":
      if (v.format !== EXPORT_FORMAT || v.version !== EXPORT_VERSION) {
        throw bad(
          `expected format "${EXPORT_FORMAT}" version ${EXPORT_VERSION}, got "${v.format}" version ${v.version}`,
        );
      }
      return v as ExportLine;
    case "room":
      if (!isId(v.head)) throw bad(`invalid head ${JSON.stringify(v.head)}`);
      if (
        v.epoch !== undefined &&
        (typeof v.epoch !== "string" || !EPOCH_PATTERN.test(v.epoch))
      ) throw bad(`invalid epoch ${JSON.stringify(v.epoch)}`);
      return v.epoch === undefined
        ? { kind: "room", room: room(), head: v.head as number }
        : {
          kind: "room",
          room: room(),
          head: v.head as number,
          epoch: v.epoch as string,
        };
    case "message": {
      const fields = typeof v.nickname === "string" &&
        typeof v.text === "string" && Number.isFinite(v.ts) &&
        (v.cid === undefined || typeof v.cid === "string");
      if (!isId(v.id) || (v.id as number) < 1 || !fields) {
        throw bad("expected a message with id, nickname, text and ts");
      }
      const line: MessageLine = {
        kind: "message",
        room: room(),
        id: v.id as number,
        nickname: v.nickname as string,
        text: v.text as string,
        ts: v.ts as number,
      };
      if (v.cid !== undefined) line.cid = v.cid as string;
      if (v.extra !== undefined) {
        const checked = checkExtra(v.extra);
        if (!checked.ok) throw bad(checked.why);
        line.extra = checked.extra;
      }
      return line;
    }
    case "revoked":
      if (typeof v.sid !== "string" || v.sid === "") throw bad("invalid sid");
      return { kind: "revoked", sid: v.sid };
    default:
      if (typeof v.kind === "string" && MODERATION_KINDS.has(v.kind)) {
        return parseModerationLine(v, bad);
      }
      throw bad(`unknown kind ${JSON.stringify(v.kind)}`);
  }
}
