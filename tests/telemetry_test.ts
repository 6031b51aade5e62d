/**
 * OpenTelemetry end to end: the server runs as its own process with
 * OTEL_DENO=true and Deno's built-in exporter sends to a fake OTLP/HTTP
 * JSON collector on loopback; the chat's metrics and spans must arrive.
 *
 * @module
 */
import assert from "node:assert/strict";
import { eventually, joinAs, spawnServer } from "./helpers/harness.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

/** A collector that records every OTLP/HTTP JSON body it is sent. */
function startCollector() {
  const bodies: { path: string; body: Json }[] = [];
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    async (req) => {
      const path = new URL(req.url).pathname;
      if (req.method !== "POST") return new Response(null, { status: 405 });
      bodies.push({ path, body: await req.json() });
      return Response.json({});
    },
  );
  return {
    endpoint: `http://127.0.0.1:${server.addr.port}`,
    bodies,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** The items (metrics or spans) of every batch sent to `path`, as OTLP JSON nests them. */
function itemsOf(
  bodies: { path: string; body: Json }[],
  signal: "metrics" | "spans",
): Json[] {
  const [path, top, scopes] = signal === "metrics"
    ? ["/v1/metrics", "resourceMetrics", "scopeMetrics"]
    : ["/v1/traces", "resourceSpans", "scopeSpans"];
  const out: Json[] = [];
  for (const batch of bodies) {
    if (batch.path !== path) continue;
    for (const resource of batch.body[top] ?? []) {
      for (const scope of resource[scopes] ?? []) {
        out.push(...(scope[signal] ?? []));
      }
    }
  }
  return out;
}

/** Every metric exported, the latest first. */
function metricsOf(bodies: { path: string; body: Json }[]): Json[] {
  return itemsOf(bodies, "metrics").reverse();
}

function spansOf(bodies: { path: string; body: Json }[]): Json[] {
  return itemsOf(bodies, "spans");
}

/** The latest value of a counter or gauge, or the count of a histogram. */
function latest(metrics: Json[], name: string): number | undefined {
  const metric = metrics.find((m) => m.name === name);
  if (!metric) return undefined;
  const points = (metric.sum ?? metric.gauge ?? metric.histogram)?.dataPoints ??
    [];
  let total = 0;
  for (const point of points) {
    total += Number(point.asInt ?? point.asDouble ?? point.count ?? 0);
  }
  return total;
}

function attribute(span: Json, key: string): unknown {
  const found = (span.attributes ?? []).find((a: Json) => a.key === key);
  return found?.value?.stringValue ?? found?.value?.intValue;
}

Deno.test("OTEL_DENO=true: the chat's metrics and spans reach an OTLP/HTTP JSON collector", async () => {
  await using collector = startCollector();
  const server = await spawnServer({
    KV_PATH: ":memory:",
    OTEL_DENO: "true",
    OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_SERVICE_NAME: "chat-test",
    OTEL_METRIC_EXPORT_INTERVAL: "250",
  });
  try {
    await using alice = await joinAs(server, "alice", { room: "general" });
    await using bob = await joinAs(server, "bob", { room: "general" });
    await alice.waitFor((e) => e.type === "join" && e.nickname === "bob");
    for (const text of ["one", "two", "three"]) {
      alice.send({ type: "message", text });
      await bob.waitForText(text);
    }

    await eventually(() => {
      const metrics = metricsOf(collector.bodies);
      return (latest(metrics, "chat.messages.posted") ?? 0) >= 3 &&
        (latest(metrics, "chat.connections") ?? 0) === 2;
    }, { timeoutMs: 8000, what: "chat.messages.posted and chat.connections" });
    const metrics = metricsOf(collector.bodies);
    // Three messages, each to two members, plus bob's join to alice.
    assert.ok(latest(metrics, "chat.deliveries")! >= 7);
    assert.ok(latest(metrics, "chat.kv.commit.duration")! >= 3);
    assert.ok(latest(metrics, "chat.flush.frames")! >= 1);
    assert.ok(latest(metrics, "chat.flush.events")! >= 1);
    assert.equal(latest(metrics, "chat.users"), 2);
    assert.equal(latest(metrics, "chat.rooms"), 1);
    const commit = metrics.find((m) => m.name === "chat.kv.commit.duration");
    assert.equal(commit.unit, "s");
  } finally {
    // SIGTERM: the server closes its sockets and exits, and Deno flushes
    // the spans still batched.
    await server.stop();
  }
  await eventually(
    () => spansOf(collector.bodies).some((s) => s.name === "chat.commit"),
    { timeoutMs: 5000, what: "the chat.commit span" },
  );
  const spans = spansOf(collector.bodies);
  const names = new Set(spans.map((s) => s.name));
  for (const name of ["chat.login", "chat.upgrade", "chat.commit"]) {
    assert.ok(names.has(name), `No "${name}" span in ${[...names]}`);
  }
  const upgrade = spans.find((s) => s.name === "GET /ws/:room");
  assert.ok(upgrade, `No "GET /ws/:room" span in ${[...names]}`);
  assert.equal(attribute(upgrade, "http.route"), "/ws/:room");
  const loginSpan = spans.find((s) => s.name === "POST /login");
  assert.ok(loginSpan, `No "POST /login" span in ${[...names]}`);
  assert.equal(attribute(loginSpan, "http.route"), "/login");
  // The login span is a child of the request's.
  const chatLogin = spans.find((s) => s.name === "chat.login");
  assert.ok(
    spans.some((s) =>
      s.spanId === chatLogin.parentSpanId && s.name === "POST /login"
    ),
  );
});
