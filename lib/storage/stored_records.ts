/**
 * How history records are laid out in KV and cut into commits: the stored
 * shape of one record, the event it reads back as, and the chunking that
 * keeps each atomic operation inside Deno KV's limits.
 *
 * @module
 */
import type { ChatMessage, SequencedEvent } from "../chat/protocol.ts";
import type { NewMessage } from "./history.ts";
import { eventFromRecord, type StoredExtra } from "./message_state.ts";

/** One record as KV holds it under `["msg", room, id]`. */
export interface Stored extends StoredExtra {
  nickname: string;
  text: string;
  ts: number;
  cid?: string;
}

// Deno KV caps an atomic operation at 1000 mutations, 100 checks and 800 KB
// in all. A message takes up to three mutations (itself, its cid, a trim),
// a cid one check; the head and the epoch take one of each.
const MAX_CHUNK_MESSAGES = 330;
const MAX_CHUNK_CIDS = 98;
const MAX_CHUNK_BYTES = 500_000;

/** Whether a record's cid is stored beside it: it has one, and a session owns it. */
export function hasCid(
  m: NewMessage,
): m is NewMessage & { cid: string; owner: string } {
  return m.cid !== undefined && m.owner !== undefined;
}

/** A stored record as the event it is, with its id. */
export function toMessage(id: number, value: Stored): SequencedEvent {
  const msg: ChatMessage = {
    type: "message",
    id,
    nickname: value.nickname,
    text: value.text,
    ts: value.ts,
  };
  if (value.cid !== undefined) msg.cid = value.cid;
  return eventFromRecord(msg, value);
}

/** Splits records into runs that each fit one KV atomic operation. */
export function chunks(messages: NewMessage[]): NewMessage[][] {
  const out: NewMessage[][] = [];
  let current: NewMessage[] = [];
  let bytes = 0;
  let cids = 0;
  for (const m of messages) {
    // Three bytes per UTF-16 unit bounds the UTF-8 size.
    const size = 128 +
      (m.text.length + m.nickname.length + 2 * (m.cid?.length ?? 0)) * 3;
    const cid = hasCid(m) ? 1 : 0;
    if (
      current.length > 0 &&
      (current.length >= MAX_CHUNK_MESSAGES || bytes + size > MAX_CHUNK_BYTES ||
        cids + cid > MAX_CHUNK_CIDS)
    ) {
      out.push(current);
      current = [];
      bytes = 0;
      cids = 0;
    }
    current.push(m);
    bytes += size;
    cids += cid;
  }
  if (current.length > 0) out.push(current);
  return out;
}
