/**
 * The chat's own OpenTelemetry metrics and spans, in one place. They go
 * through `@opentelemetry/api`, which Deno's built-in exporter serves when
 * `OTEL_DENO=true`; without it every call here is a no-op, so the hot
 * paths pay a function call and nothing more.
 *
 * @module
 */
import {
  type Attributes,
  metrics,
  type Span,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import type { MiddlewareHandler } from "hono";
import { routePath } from "hono/route";

const SCOPE = "deno-chat";
const meter = metrics.getMeter(SCOPE);
const tracer = trace.getTracer(SCOPE);

/** Counts for the observable gauges, as the hub reports them. */
export interface GaugeSource {
  stats(): { connections: number; users: number; rooms: number };
}

/** Bucket bounds for counts per flush, from one to a large room. */
const COUNTS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000];
/** Bucket bounds in seconds, from half a millisecond to 5 s. */
const SECONDS = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
];

function counter(name: string, unit: string, description: string) {
  return meter.createCounter(name, { unit, description });
}

function histogram(
  name: string,
  unit: string,
  options: { description: string; buckets: number[] },
) {
  return meter.createHistogram(name, {
    unit,
    description: options.description,
    advice: { explicitBucketBoundaries: options.buckets },
  });
}

function gauge(name: string, unit: string, description: string) {
  return meter.createObservableGauge(name, { unit, description });
}

const messagesPosted = counter(
  "chat.messages.posted",
  "{message}",
  "Messages committed to KV by this instance",
);
const deliveries = counter(
  "chat.deliveries",
  "{event}",
  "Events written to sockets: members reached × events per frame",
);
const flushFrames = histogram("chat.flush.frames", "{frame}", {
  description: "Frames one fan-out wrote (one per member reached)",
  buckets: COUNTS,
});
const flushEvents = histogram("chat.flush.events", "{event}", {
  description: "Events one fan-out frame carried",
  buckets: COUNTS,
});
const commitDuration = histogram("chat.kv.commit.duration", "s", {
  description: "Time one KV commit of a flush's messages took",
  buckets: SECONDS,
});
const rateLimited = counter(
  "chat.rate_limited",
  "{refusal}",
  "Refusals for rate: a message over the user's bucket, or an upgrade over a connection limit",
);
const closes = counter(
  "chat.closes",
  "{close}",
  "WebSockets the server closed, by close code",
);
const evictions = counter(
  "chat.evictions",
  "{connection}",
  "Slow readers closed with 1013",
);
const busLag = histogram("chat.bus.lag", "s", {
  description:
    "Now minus the message's timestamp, for messages received from the bus",
  buckets: SECONDS,
});
const connectionsGauge = gauge(
  "chat.connections",
  "{connection}",
  "Open WebSockets on this instance",
);
const usersGauge = gauge(
  "chat.users",
  "{user}",
  "Sessions with a socket open on this instance",
);
const roomsGauge = gauge(
  "chat.rooms",
  "{room}",
  "Rooms in this instance's room map",
);

/** Attribute sets made once, so recording allocates nothing. */
const byCode = new Map<number, Attributes>();
const byReason = new Map<string, Attributes>();

function codeAttributes(code: number): Attributes {
  let attributes = byCode.get(code);
  if (!attributes) byCode.set(code, attributes = { code });
  return attributes;
}

function reasonAttributes(reason: string): Attributes {
  let attributes = byReason.get(reason);
  if (!attributes) byReason.set(reason, attributes = { reason });
  return attributes;
}

/** Why a request was refused for rate: see {@linkcode countRateLimited}. */
export type RateLimitReason =
  | "message"
  | "address_messages"
  | "connections_per_ip"
  | "connections"
  | "logins"
  | "rooms"
  | "scrollback";

/** Records one fan-out: `frames` sockets written, each frame carrying `events` events. */
export function recordFanout(frames: number, events: number): void {
  if (frames === 0) return;
  deliveries.add(frames * events);
  flushFrames.record(frames);
  flushEvents.record(events);
}

/**
 * Runs one KV commit of a flush's messages in a `chat.commit` span; when it
 * succeeds, counts the messages as posted and records how long it took.
 */
export async function tracedCommit<T>(
  what: { room: string; messages: number },
  commit: () => Promise<T>,
): Promise<T> {
  return await inSpan("chat.commit", async (span) => {
    span.setAttribute("chat.room", what.room);
    span.setAttribute("chat.messages", what.messages);
    const started = performance.now();
    const result = await commit();
    commitDuration.record((performance.now() - started) / 1000);
    messagesPosted.add(what.messages);
    return result;
  });
}

/** Counts one refusal for rate. */
export function countRateLimited(reason: RateLimitReason): void {
  rateLimited.add(1, reasonAttributes(reason));
}

/** Counts one close the server sent, by its close code. */
export function countClose(code: number): void {
  closes.add(1, codeAttributes(code));
}

/** Counts one slow reader evicted: its backlog grew too large, or a send to it failed. */
export function countEviction(reason: "backlog" | "send_failed"): void {
  evictions.add(1, reasonAttributes(reason));
}

/** Records how long ago (ms) a message received from the bus was made. */
export function recordBusLag(ms: number): void {
  busLag.record(Math.max(0, ms) / 1000);
}

const sources = new Set<GaugeSource>();
meter.addBatchObservableCallback((result) => {
  for (const source of sources) {
    const stats = source.stats();
    result.observe(connectionsGauge, stats.connections);
    result.observe(usersGauge, stats.users);
    result.observe(roomsGauge, stats.rooms);
  }
}, [connectionsGauge, usersGauge, roomsGauge]);

/** Reports `source`'s counts as the gauges until the returned function is called. */
export function observeGauges(source: GaugeSource): () => void {
  sources.add(source);
  return () => sources.delete(source);
}

/**
 * Runs `fn` in a span named `name` (a child of the active one, e.g. the
 * request's), marks it failed if `fn` throws, and ends it.
 */
export async function inSpan<T>(
  name: string,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  return await tracer.startActiveSpan(name, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(err instanceof Error ? err : String(err));
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Middleware that runs the rest of the request in a span named `name`, with its status code. */
export function spanned(name: string): MiddlewareHandler {
  return (c, next) =>
    inSpan(name, async (span) => {
      await next();
      span.setAttribute("http.response.status_code", c.res.status);
    });
}

/**
 * Middleware that names the request's server span (Deno's, named just
 * `GET`) after the route it matched, `GET /ws/:room`, and sets
 * `http.route`; a request no route matched keeps the plain name.
 */
export function routeSpans(): MiddlewareHandler {
  return (c, next) => {
    const span = trace.getActiveSpan();
    if (span) {
      const route = routePath(c, -1);
      if (route !== "*" && route !== "/*") {
        span.setAttribute("http.route", route);
        span.updateName(`${c.req.method} ${route}`);
      }
    }
    return next();
  };
}
