/**
 * A bus over Redis pub/sub for self-hosted instances on several machines:
 * one publisher and one subscriber connection per process, a channel per
 * room, reconnection with backoff, and a clear log line while Redis is down.
 *
 * @module
 */
import { createClient } from "redis";
import { type Bus, type BusEnvelope, Inbox } from "./bus.ts";

const CHANNEL_PREFIX = "deno-chat:room:";

/** Connects to Redis and returns the bus; messages stay in KV whatever Redis does. */
export async function createRedisBus(
  options: { url: string; origin: string; log: (message: string) => void },
): Promise<Bus> {
  const reconnectStrategy = (retries: number) =>
    Math.min(100 * 2 ** Math.min(retries, 5), 3000) +
    Math.floor(Math.random() * 100);
  const publisher = createClient({
    url: options.url,
    socket: { reconnectStrategy, connectTimeout: 2000 },
  });
  const subscriber = publisher.duplicate();
  let down = false;
  for (
    const [name, client] of [["publisher", publisher], [
      "subscriber",
      subscriber,
    ]] as const
  ) {
    client.on("error", (err: Error) => {
      if (!down) {
        down = true;
        options.log(
          `Redis at ${options.url} is down (${name}: ${err.message}): reconnecting; messages are kept in KV`,
        );
      }
    });
    client.on("ready", () => {
      if (down) {
        down = false;
        options.log(`Redis at ${options.url} is back`);
      }
    });
  }
  await Promise.all([publisher.connect(), subscriber.connect()]);
  const rooms = new Set<string>();
  const inbox = new Inbox();

  const listener = (message: string) => {
    let envelope: BusEnvelope;
    try {
      envelope = JSON.parse(message);
    } catch {
      return;
    }
    if (envelope.origin !== options.origin) inbox.deliver(envelope);
  };

  return {
    publish(envelope) {
      if (!publisher.isReady) return;
      publisher.publish(
        CHANNEL_PREFIX + envelope.room,
        JSON.stringify(envelope),
      )
        .catch(() => {
          // Down: the error handler has logged it; KV has the messages.
        });
    },
    listen: (handler) => inbox.listen(handler),
    isUp: () => !down && publisher.isReady && subscriber.isReady,
    watch(room) {
      if (rooms.has(room)) return;
      rooms.add(room);
      subscriber.subscribe(CHANNEL_PREFIX + room, listener).catch(() => {
        // Resubscribed automatically when the connection comes back.
      });
    },
    unwatch(room) {
      if (!rooms.delete(room)) return;
      subscriber.unsubscribe(CHANNEL_PREFIX + room).catch(() => {});
    },
    async close() {
      rooms.clear();
      await Promise.allSettled([subscriber.quit(), publisher.quit()]);
    },
  };
}
