/**
 * Step 4 of a room's pipeline (room.ts): the flush's new events get their
 * ids in one KV commit, before anyone sees them. Changes are checked
 * against the stored messages first (room_events.ts); a retry whose cid the
 * store already had is confirmed to its sender alone; when the store
 * refuses the commit, every sender is told and nothing is fanned out.
 *
 * @module
 */
import { tracedCommit } from "../app/telemetry.ts";
import type { AppendedMessage } from "../storage/history.ts";
import type { Connection } from "./connection.ts";
import {
  errorFrame,
  isSequenced,
  type RoomEvent,
  type SequencedEvent,
} from "./protocol.ts";
import type { RoomContext } from "./room_context.ts";
import type { RoomChanges } from "./room_events.ts";

/** What {@linkcode commitFresh} works with: the room's own parts. */
export interface CommitDeps {
  room: string;
  ctx: RoomContext;
  changes: RoomChanges;
  /** Who sent each event still waiting for its id; emptied of what was stored. */
  senders: Map<SequencedEvent, Connection>;
}

/** The new events now with ids, and which of them were retries already stored. */
export interface Committed {
  fresh: SequencedEvent[];
  repeats: Set<SequencedEvent>;
}

/**
 * Commits the new events among `events` and gives them their ids; takes out
 * of `events` (in place) what must not be fanned out: refused changes,
 * retries already stored, or everything new when the store failed.
 */
export async function commitFresh(
  events: RoomEvent[],
  deps: CommitDeps,
): Promise<Committed> {
  const { room, ctx, changes, senders } = deps;
  const fresh: SequencedEvent[] = [];
  for (const event of events) {
    if (isSequenced(event) && event.id === 0) fresh.push(event);
  }
  if (fresh.length === 0) return { fresh, repeats: new Set() };
  try {
    const records = await changes.admit(fresh, events, senders);
    // A message's cid is stored beside it under its session's hash, so a
    // retry is found in KV even by another process or another instance.
    const stored = await tracedCommit(
      { room, messages: fresh.length },
      () => ctx.history.append(room, records),
    );
    const repeats = confirmRepeats(fresh, stored, senders);
    for (let i = 0; i < fresh.length; i++) fresh[i].id = stored[i].id;
    // Stored: a moderator's delete is confirmed and audited only now.
    changes.committed(fresh, senders);
    for (const message of fresh) senders.delete(message);
    if (repeats.size > 0) {
      const kept = events.filter((e) => !repeats.has(e as SequencedEvent));
      events.splice(0, events.length, ...kept);
    }
    return { fresh, repeats };
  } catch (err) {
    ctx.log("Storing messages failed: senders are told", {
      room,
      count: fresh.length,
      error: err instanceof Error ? err.message : String(err),
    });
    for (const message of fresh) {
      const sender = senders.get(message);
      senders.delete(message);
      if (!sender) continue;
      if (message.type === "message" && message.cid !== undefined) {
        sender.session.policy.forget(message.cid);
      }
      sender.send(
        errorFrame("internal", "Message not stored: please send it again"),
      );
    }
    const kept = events.filter((e) => !(isSequenced(e) && e.id === 0));
    events.splice(0, events.length, ...kept);
    return { fresh: [], repeats: new Set() };
  }
}

/**
 * After the commit: answers each retry the store already had under its cid
 * (after a crash, or taken on another instance) with that message, on its
 * sender's socket alone; returns those retries, which are not news.
 */
function confirmRepeats(
  fresh: SequencedEvent[],
  stored: AppendedMessage[],
  senders: ReadonlyMap<SequencedEvent, Connection>,
): Set<SequencedEvent> {
  const repeats = new Set<SequencedEvent>();
  stored.forEach((found, i) => {
    // Only messages store their cid: a repeat is always one.
    if (!found.repeat || found.type !== "message") return;
    const message = fresh[i];
    repeats.add(message);
    // The policy remembers this object: later retries are confirmed from memory.
    Object.assign(message, { text: found.text, ts: found.ts });
    const { repeat: _, ...confirmation } = found;
    senders.get(message)?.send(JSON.stringify(confirmation));
  });
  return repeats;
}
