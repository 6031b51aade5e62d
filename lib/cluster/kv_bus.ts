/**
 * A bus over Deno KV watch, for Deno Deploy where KV is global: each active
 * room's head key is watched, and new messages are read by sequence.
 * A local KV file notifies only its own process, so on one machine this
 * reaches apps sharing one KV handle, not other processes.
 *
 * @module
 */
import type { Bus, BusHandler } from "./bus.ts";
import type { Store } from "../storage/history.ts";

/** Builds the KV-watch bus; presence and typing do not cross it, only messages. */
export function createKvBus(
  handler: BusHandler,
  options: { kv: Deno.Kv; store: Store; log?: (message: string) => void },
): Bus {
  const { kv, store } = options;
  const watches = new Map<string, ReadableStreamDefaultReader>();

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
        const messages = await store.range(room, seen, head);
        seen = head;
        if (messages.length > 0) {
          handler({ origin: "kv", room, events: messages });
        }
      }
    } catch (err) {
      if (watches.get(room) === reader) {
        options.log?.(`KV watch of room "${room}" failed: ${err}`);
        watches.delete(room);
      }
    }
  }

  return {
    kind: "kv",
    publish() {
      // Committing to KV is the publication.
    },
    watch(room) {
      if (watches.has(room)) return;
      const reader = kv.watch([["seq", room]]).getReader();
      watches.set(room, reader);
      follow(room, reader);
    },
    unwatch(room) {
      const reader = watches.get(room);
      if (!reader) return;
      watches.delete(room);
      reader.cancel().catch(() => {});
    },
    async close() {
      const readers = [...watches.values()];
      watches.clear();
      await Promise.all(readers.map((r) => r.cancel().catch(() => {})));
    },
  };
}
