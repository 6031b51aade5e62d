/**
 * A bus over Redis pub/sub for self-hosted instances on several machines:
 * one publisher and one subscriber connection per process, a channel per
 * room, reconnection with backoff, and a clear log line while Redis is down.
 *
 * @module
 */
import { createClient } from "redis";
import type { Logger } from "../app/log.ts";
import { redactUrl } from "../app/redact.ts";
import { type Bus, type BusEnvelope, Inbox } from "./bus.ts";

const CHANNEL_PREFIX = "deno-chat:room:";

/** Returns the bus at once and connects in the background; messages stay in KV whatever Redis does. */
export function createRedisBus(
  options: { url: string; origin: string; log: Logger },
): Bus {
  const reconnectStrategy = (retries: number) =>
    Math.min(100 * 2 ** Math.min(retries, 5), 3000) +
    Math.floor(Math.random() * 100);
  const publisher = createClient({
    url: options.url,
    socket: { reconnectStrategy, connectTimeout: 2000 },
  });
  const subscriber = publisher.duplicate();
  // Never the URL itself: it may carry the password.
  const redis = redactUrl(options.url);
  let down = false;
  let everUp = false;
  for (
    const [name, client] of [["publisher", publisher], [
      "subscriber",
      subscriber,
    ]] as const
  ) {
    client.on("error", (err: Error) => {
      if (down) return;
      down = true;
      options.log(
        everUp
          ? "Redis is down: reconnecting; messages are kept in KV"
          : "Redis is not reachable at start: serving without it and reconnecting; messages are kept in KV",
        { redis, client: name, error: redactUrl(err.message) },
        { level: "warning" },
      );
    });
    client.on("ready", () => {
      if (!publisher.isReady || !subscriber.isReady) return;
      const wasDown = down;
      down = false;
      if (!everUp || wasDown) {
        options.log(everUp ? "Redis is back" : "Redis bus is up", { redis }, {
          level: "info",
        });
      }
      everUp = true;
    });
  }
  // Not awaited: a server whose Redis is down still serves, and node-redis
  // keeps retrying with the back-off above.
  for (const client of [publisher, subscriber]) {
    client.connect().catch(() => {
      // Reported by the error handler; retried by the reconnect strategy.
    });
  }
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
      // close() waits for a connection that may never come; destroy() does not.
      await Promise.allSettled(
        [subscriber, publisher].map((client) =>
          client.isReady ? client.close() : client.destroy()
        ),
      );
    },
  };
}
