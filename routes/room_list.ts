/**
 * The rooms list's reading of `read=room:id,...`: for each room a page has
 * visited, how many messages came after the last one it read, and how many
 * of those mention the reader. Bounded: a capped list of rooms, and a
 * capped number of stored events read per room.
 *
 * @module
 */
import { isRoomName } from "../lib/chat/protocol.ts";
import type { HistoryStore } from "../lib/storage/history.ts";

/** Rooms one `read` list may name; more is refused. */
export const MAX_READ_ROOMS = 20;
/** Events read per room, at most, to count what is unread. */
export const UNREAD_SCAN = 200;

/** What a page says it has read: room → the last id it saw. */
export type ReadList = Map<string, number>;

/** What one room's unread state is, for one reader. */
export interface Unread {
  /** Messages (not changes, not the reader's own) after the last id read. */
  unread: number;
  /** Those of them that mention the reader by `@nickname`. */
  mentions: number;
  /** True when more happened than was read through: the counts are at least this. */
  capped: boolean;
}

/** Parses `read=lobby:12,dev:40`; an error message when it is not that. */
export function parseReadList(
  raw: string,
): { ok: true; list: ReadList } | { ok: false; error: string } {
  const list: ReadList = new Map();
  const parts = raw === "" ? [] : raw.split(",");
  if (parts.length > MAX_READ_ROOMS) {
    return {
      ok: false,
      error: `Invalid read "${
        raw.slice(0, 32)
      }": at most ${MAX_READ_ROOMS} rooms`,
    };
  }
  for (const part of parts) {
    const match = /^([a-z0-9-]{1,32}):(0|[1-9]\d{0,14})$/.exec(part);
    if (!match || !isRoomName(match[1])) {
      return {
        ok: false,
        error: `Invalid read "${
          part.slice(0, 48)
        }": expected room:id, e.g. lobby:12`,
      };
    }
    list.set(match[1], Number(match[2]));
  }
  return { ok: true, list };
}

const WORD_CHAR = /[\p{L}\p{N}_]/u;

/**
 * Whether `text` mentions `nickname` as `@nickname`, not inside a longer
 * word (`@annie`) or an address (`ann@example.com`), as the page does
 */
export function mentions(text: string, nickname: string): boolean {
  const lower = text.toLowerCase();
  const needle = `@${nickname.toLowerCase()}`;
  for (
    let at = lower.indexOf(needle);
    at >= 0;
    at = lower.indexOf(needle, at + 1)
  ) {
    if (at > 0 && WORD_CHAR.test(text[at - 1])) continue;
    const next = lower.slice(at + needle.length).codePointAt(0);
    if (next === undefined || !WORD_CHAR.test(String.fromCodePoint(next))) {
      return true;
    }
  }
  return false;
}

/** Counts what `reader` has not read in `room` after `after`, up to the room's head. */
export async function unreadIn(
  history: HistoryStore,
  room: string,
  options: { after: number; head: number; reader: string },
): Promise<Unread> {
  const { after, head, reader } = options;
  if (head <= after) return { unread: 0, mentions: 0, capped: false };
  const from = Math.max(after, head - UNREAD_SCAN);
  const events = await history.range(room, from, head);
  let unread = 0;
  let mentioned = 0;
  for (const event of events) {
    if (event.type !== "message" || event.nickname === reader) continue;
    if (event.deleted) continue;
    unread++;
    if (mentions(event.text, reader)) mentioned++;
  }
  return { unread, mentions: mentioned, capped: from > after };
}
