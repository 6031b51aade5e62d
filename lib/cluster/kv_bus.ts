/**
 * A bus over Deno KV watch, for Deno Deploy where KV is global: each active
 * room's head key is watched, and new messages are read by sequence.
 * A local KV file notifies only its own process, so on one machine this
 * reaches apps sharing one KV handle, not other processes.
 *
 * @module
 */
import { errorText, type Logger } from "../app/log.ts";
import { isSequenced, type SequencedEvent } from "../chat/protocol.ts";
import type { HistoryStore } from "../storage/history.ts";
import { KEYS } from "../storage/keys.ts";
import { type Bus, type BusEvent, Inbox } from "./bus.ts";

/** The origin of envelopes read from KV: whoever committed them, maybe this instance. */
export const KV_ORIGIN = "kv";

/** Builds the KV-watch bus; presence and typing do not cross it, only messages. */
export function createKvBus(
  options: {
    kv: Deno.Kv;
    history: HistoryStore;
    log?: Logger;
  },
): Bus {
  const { kv, history } = options;
  const inbox = new Inbox();
  const watches = new Map<string, ReadableStreamDefaultReader>();
  // Ids this instance committed and published itself: a watch notice that
  // brings them back is not news here.
  const own = new Map<string, Set<number>>();

  function fresh(
    room: string,
    messages: SequencedEvent[],
  ): SequencedEvent[] {
    const mine = own.get(room);
    if (!mine || mine.size === 0) return messages;
    const out = messages.filter((m) => !mine.delete(m.id));
    return out;
  }

  async function follow(room: string, reader: ReadableStreamDefaultReader) {
    let seen: number | undefined;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        const head = (value as Deno.KvEntryMaybe<number>[])[0]?.value ?? 0;
        // The first notice is the head as it was when watching began.
        if (seen === undefined || head <= seen) {
          seen = Math.max(seen ?? 0, head);
          continue;
        }
        const messages = fresh(room, await history.range(room, seen, head));
        // Anything older than what was read can no longer come back.
        const mine = own.get(room);
        if (mine) { for (const id of mine) if (id <= head) mine.delete(id); }
        seen = head;
        if (messages.length > 0) {
          inbox.deliver({ origin: KV_ORIGIN, room, events: messages });
        }
      }
    } catch (err) {
      if (watches.get(room) === reader) {
        options.log?.("KV watch of a room failed", {
          room,
          error: errorText(err),
        });
        watches.delete(room);
      }
    }
  }

  return {
    publish(envelope) {
      // Committing to KV is the publication; remember what was ours.
      const watched = watches.has(envelope.room);
      if (!watched) return;
      let mine = own.get(envelope.room);
      for (const event of envelope.events as BusEvent[]) {
        if (!isSequenced(event)) continue;
        if (!mine) own.set(envelope.room, mine = new Set());
        mine.add(event.id);
      }
    },
    listen: (handler) => inbox.listen(handler),
    // KV is the bus: when it is down, readiness says so through KV itself.
    isUp: () => true,
    watch(room) {
      if (watches.has(room)) return;
      const reader = kv.watch([KEYS.head(room)]).getReader();
      watches.set(room, reader);
      follow(room, reader);
    },
    unwatch(room) {
      const reader = watches.get(room);
      if (!reader) return;
      watches.delete(room);
      own.delete(room);
      reader.cancel().catch(() => {});
    },
    async close() {
      const readers = [...watches.values()];
      watches.clear();
      own.clear();
      await Promise.all(readers.map((r) => r.cancel().catch(() => {})));
    },
  };
}
