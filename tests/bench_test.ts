import assert from "node:assert/strict";
import {
  concat,
  encodeFrame,
  encodeTextFrame,
  FrameParser,
  OP,
} from "../bench/ws_client.ts";
import { formatTag, Histogram, scanTags } from "../bench/metrics.ts";
import {
  readSettings,
  type RunRecord,
  scalingSummary,
  startCommand,
  summarise,
  summaryTable,
} from "../bench/run.ts";
import { findBun } from "../bench/peers.ts";
import type { LoadResult } from "../bench/load.ts";
import { measurePageRender } from "../bench/page_browser.ts";
import { PAGE_WORKLOAD } from "../bench/page_render.ts";
import { HIGH_RATE, startServer } from "./helpers/harness.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A server-to-client frame: unmasked, as servers send them. */
function serverFrame(
  text: string,
  opcode: number = OP.TEXT,
  fin = true,
): Uint8Array {
  return encodeFrame(opcode, text, { fin, mask: false });
}

function collect(parser: FrameParser, texts: string[], pings: string[] = []) {
  parser.parse((data, start, end) => {
    texts.push(decoder.decode(data.subarray(start, end)));
  }, {
    ping: (payload) => pings.push(decoder.decode(payload)),
    close: () => texts.push("<close>"),
  });
}

Deno.test("FrameParser reassembles frames split at every byte", () => {
  const big = "x".repeat(70_000);
  const mid = "y".repeat(300);
  const stream = concat([
    serverFrame("hello"),
    serverFrame(mid),
    serverFrame("ping!", OP.PING),
    serverFrame(big),
    serverFrame("frag", OP.TEXT, false),
    serverFrame("ment", OP.CONTINUATION, true),
    serverFrame("", OP.CLOSE),
  ]);
  for (const step of [1, 7, 1000, stream.length]) {
    const parser = new FrameParser(16);
    const texts: string[] = [];
    const pings: string[] = [];
    for (let at = 0; at < stream.length; at += step) {
      parser.push(stream.subarray(at, Math.min(stream.length, at + step)));
      collect(parser, texts, pings);
    }
    // Compared by length first so a failure does not print 70 kB.
    assert.deepEqual(texts.map((t) => t.length), [5, 300, 70_000, 8, 7]);
    assert.deepEqual(texts, ["hello", mid, big, "fragment", "<close>"]);
    assert.deepEqual(pings, ["ping!"]);
  }
});

Deno.test("encodeTextFrame masks with a zero key and sets the lengths", () => {
  for (const size of [0, 125, 126, 65535, 65536]) {
    const frame = encodeTextFrame("a".repeat(size));
    assert.equal(frame[0], 0x81);
    assert.equal(frame[1] & 0x80, 0x80);
    const header = size < 126 ? 2 : size < 65536 ? 4 : 10;
    assert.equal(frame.length, header + 4 + size);
    assert.deepEqual([...frame.subarray(header, header + 4)], [0, 0, 0, 0]);
  }
});

Deno.test("scanTags finds every tag in single and batch frames", () => {
  const tags = [formatTag(3, 1, 0, 123456), formatTag(12, 1, 49, 7)];
  const single = `{"type":"message","id":1,"nickname":"a~b","text":"${
    tags[0]
  }","ts":1}`;
  const batch = JSON.stringify({
    type: "batch",
    events: [
      { type: "join", nickname: "~9.9~" },
      { type: "message", id: 2, nickname: "z", text: tags[0], ts: 2 },
      { type: "message", id: 3, nickname: "z", text: tags[1], ts: 3 },
    ],
  });
  const found: number[][] = [];
  const push = (s: number, r: number, q: number, t: number) =>
    found.push([s, r, q, t]);
  const bytes = encoder.encode(`~1.2.3.4~junk${single}`);
  // The tag before `start` must not be seen.
  assert.equal(scanTags(bytes, 13, bytes.length, push), 1);
  assert.deepEqual(found, [[3, 1, 0, 123456]]);
  found.length = 0;
  const b = encoder.encode(batch);
  assert.equal(scanTags(b, 0, b.length, push), 2);
  assert.deepEqual(found, [[3, 1, 0, 123456], [12, 1, 49, 7]]);
  found.length = 0;
  assert.equal(scanTags(b, 0, b.length, push, false), 2);
  assert.deepEqual(found, [[3, 1, 0, 0], [12, 1, 49, 0]]);
  // A tag cut off by the end of the range is not a delivery.
  const cut = encoder.encode(tags[1]);
  assert.equal(scanTags(cut, 0, cut.length - 1, push), 0);
});

Deno.test("Histogram quantiles land in the right bucket", () => {
  const h = new Histogram();
  for (let i = 1; i <= 1000; i++) h.record(i * 100); // 0.1 ms … 100 ms
  assert.equal(h.count, 1000);
  assert.ok(Math.abs(h.quantileUs(0.5) - 50_000) <= 10);
  assert.ok(Math.abs(h.quantileUs(0.99) - 99_000) <= 1000);
  assert.equal(h.maxUs, 100_000);
  h.record(5_000_000);
  assert.equal(h.quantileUs(1), 5_000_000);
});

Deno.test("readSettings keeps quick mode small and checks its knobs", () => {
  const quick = readSettings({ BENCH_QUICK: "1" });
  assert.equal(quick.reps, 1);
  assert.deepEqual(quick.workloads.map((w) => w.id), [
    "burst32",
    "burst1000",
    "workers32",
    "capacity",
    "idle",
  ]);
  assert.deepEqual(readSettings({}).workloads.map((w) => w.id), [
    "burst32",
    "burst1000",
    "workers32",
    "workers1000",
    "capacity",
    "idle",
  ]);
  const workers = quick.workloads.find((w) => w.id === "workers32")!;
  assert.deepEqual(workers.workers, [1, 2]);
  const full = readSettings({ BENCH_WORKLOADS: "capacity" });
  assert.equal(full.reps, 3);
  assert.equal(full.workloads.length, 1);
  const capacity = full.workloads[0].config;
  assert.equal(capacity.kind, "capacity");
  if (capacity.kind === "capacity") assert.equal(capacity.members, 1000);
  assert.throws(() => readSettings({ BENCH_WORKLOADS: "nope" }), /unknown/);
  assert.throws(() => readSettings({ BENCH_REPS: "-1" }), /positive/);
});

Deno.test("readSettings takes the Deno load unless BENCH_LOAD asks for Go", () => {
  assert.equal(readSettings({}).load, "deno");
  assert.equal(readSettings({ BENCH_QUICK: "1" }).load, "deno");
  assert.equal(readSettings({ BENCH_LOAD: "go" }).load, "go");
  assert.throws(() => readSettings({ BENCH_LOAD: "rust" }), /BENCH_LOAD/);
});

Deno.test("startCommand is deno.json's start task, which may spawn deno serve", async () => {
  const command = await startCommand();
  const root = new URL("..", import.meta.url);
  const config = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", root)),
  );
  assert.equal(command.join(" "), config.tasks.start);
  // WORKERS>1 runs `deno serve --parallel` as a child process.
  assert.ok(command.includes("--allow-run=deno"), command.join(" "));
});

Deno.test("scalingSummary pairs WORKERS values per repetition", () => {
  const [w] = readSettings({ BENCH_WORKLOADS: "workers32" }).workloads;
  const run = (rep: number, workers: number, rate: number): RunRecord => ({
    rep,
    workload: "workers32",
    target: "server",
    workers,
    pinned: false,
    result: {
      kind: "burst",
      target: "server",
      deliveriesPerSecond: rate,
      serverCpu: 1,
      loadCpu: 0.5,
      lost: 0,
      duplicated: 0,
    } as LoadResult,
  });
  const [row] = scalingSummary([
    run(1, 1, 100),
    run(1, 2, 150),
    run(2, 1, 200),
    run(2, 2, 200),
  ], [w]);
  assert.deepEqual(row.workers, [1, 2]);
  assert.deepEqual(row.rate[0], { median: 150, min: 100, max: 200 });
  assert.deepEqual(row.ratio[1], { median: 1.25, min: 1, max: 1.5 });
  assert.deepEqual(row.totalCpu, [1.5, 1.5]);
  assert.equal(row.cpuPerDeliveryUs[1], (1e6 / 150 + 1e6 / 200) / 2);
});

Deno.test("summarise pairs the chat server with Bun per repetition, and shows – without Bun", () => {
  const [w] = readSettings({ BENCH_WORKLOADS: "burst32" }).workloads;
  const run = (
    rep: number,
    target: RunRecord["target"],
    rate: number,
  ): RunRecord => ({
    rep,
    workload: "burst32",
    target,
    pinned: true,
    result: {
      kind: "burst",
      target,
      deliveriesPerSecond: rate,
      serverCpu: 1,
      loadCpu: 0.5,
      lost: 0,
      duplicated: 0,
    } as LoadResult,
  });
  const [row] = summarise([
    run(1, "server", 100),
    run(1, "baseline", 50),
    run(1, "bun", 200),
    run(2, "server", 300),
    run(2, "baseline", 100),
    run(2, "bun", 200),
  ], [w]);
  assert.deepEqual(row.bun, { median: 200, min: 200, max: 200 });
  assert.deepEqual(row.bunRatio, { median: 1, min: 0.5, max: 1.5 });
  assert.deepEqual(row.ratio, { median: 2.5, min: 2, max: 3 });
  const [alone] = summarise([run(1, "server", 100), run(1, "baseline", 50)], [
    w,
  ]);
  assert.ok(Number.isNaN(alone.bun.median));
  assert.match(summaryTable([alone]), /\| 2\.00 \| – \| – \|/);
});

// CI has no Bun and must not fetch one: the bench only looks where
// `npm install --prefix bench/.peers bun` puts it, or where BENCH_BUN says.
Deno.test("findBun skips Bun in quick runs, when turned off, and when the binary is missing", async () => {
  const off = await findBun({ BENCH_BUN: "0" }, false);
  assert.equal(off.bun, undefined);
  assert.match(off.note, /off/);
  const quick = await findBun({}, true);
  assert.equal(quick.bun, undefined);
  assert.match(quick.note, /quick run/);
  const missing = await findBun({ BENCH_BUN: "/nonexistent/bun" }, false);
  assert.equal(missing.bun, undefined);
  assert.match(missing.note, /skipped: no runnable bun at \/nonexistent\/bun/);
  // Any runnable binary that prints a version counts; deno stands in for bun.
  const found = await findBun({ BENCH_BUN: Deno.execPath() }, false);
  assert.equal(found.bun?.path, Deno.execPath());
  assert.match(found.bun?.version ?? "", /deno/);
});

Deno.test({
  name: "deno task bench in quick mode runs end to end and loses nothing",
  // The bench spawns servers that outlive single ops; leaks are its business.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "bench-test-" });
    const out = `${dir}/results.json`;
    try {
      const child = new Deno.Command("deno", {
        args: ["task", "bench"],
        cwd: new URL("..", import.meta.url).pathname,
        env: { BENCH_QUICK: "1", BENCH_OUT: out },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
      const result = await child.output();
      clearTimeout(timer);
      const log = decoder.decode(result.stdout) + decoder.decode(result.stderr);
      assert.ok(result.success, `bench failed:\n${log.slice(-3000)}`);
      const results = JSON.parse(await Deno.readTextFile(out));
      assert.equal(results.quick, true);
      assert.equal(results.ok, true);
      assert.equal(results.lost, 0);
      assert.equal(results.duplicated, 0);
      assert.equal(typeof results.deno, "string");
      assert.equal(typeof results.pinned, "boolean");
      // Two runs (server and baseline, or WORKERS=1 and 2) for each of the
      // five workloads, one repetition.
      assert.equal(results.runs.length, 10);
      // Every `deno serve` exited with its parent.
      assert.equal(results.leftoverProcesses, 0);
      for (const run of results.runs) {
        assert.ok(["server", "baseline"].includes(run.target));
        assert.equal(run.result.lost, 0, JSON.stringify(run));
        assert.equal(run.result.duplicated, 0, JSON.stringify(run));
        assert.equal(typeof run.result.loadCpu, "number");
      }
      const ids = results.summary.map((r: { workload: string }) => r.workload);
      assert.deepEqual(ids, [
        "burst32",
        "burst1000",
        "capacity",
        "idle",
        "idle",
        "idle",
        "idle",
      ]);
      const scaled = results.runs.filter((r: RunRecord) =>
        r.workload === "workers32"
      );
      assert.deepEqual(scaled.map((r: RunRecord) => r.workers), [1, 2]);
      for (const run of scaled) {
        assert.equal(run.pinned, false);
        // With WORKERS=2 the server's CPU includes its `deno serve` child.
        assert.equal(run.result.serverProcesses, run.workers === 2 ? 2 : 1);
        assert.ok(run.result.deliveriesPerSecond > 0);
      }
      assert.equal(results.scaling.length, 1);
      assert.deepEqual(results.scaling[0].workers, [1, 2]);
      for (const row of results.summary) {
        for (const key of ["server", "baseline", "ratio", "difference"]) {
          for (const stat of ["median", "min", "max"]) {
            assert.equal(
              typeof row[key][stat],
              "number",
              `${row.label} ${key}`,
            );
          }
        }
      }
      const capacity = results.runs.find((r: { workload: string }) =>
        r.workload === "capacity"
      );
      assert.ok(capacity.result.steps.length >= 1);
      for (const step of capacity.result.steps) {
        assert.equal(step.delivered, step.expected);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "the page workload sees a burst rendered once each and in order",
  // Playwright's pipes to Chromium outlive single ops
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using server = await startServer(HIGH_RATE);
    const result = await measurePageRender({
      origin: server.origin,
      messages: 500,
    });
    // Fewer than the log keeps, so every one of them is still there
    assert.deepEqual(
      result.texts,
      Array.from({ length: 500 }, (_, i) => `burst ${i}`),
    );
    assert.equal(result.added, 500);
    assert.equal(result.duplicated, 0);
    assert.equal(result.outOfOrder, 0);
    assert.deepEqual(result.errors, []);
    assert.equal(result.ok, true);
    assert.ok(result.messagesPerSecond > 0);
  },
});

Deno.test("readSettings runs the page workload in full runs or when asked", () => {
  const asked = { BENCH_WORKLOADS: PAGE_WORKLOAD };
  assert.equal(readSettings({ ...asked, BENCH_QUICK: "1" }).page, 500);
  assert.deepEqual(readSettings(asked).workloads, []);
  assert.equal(readSettings(asked).page, 20_000);
  assert.equal(readSettings({}).page, 20_000);
  assert.equal(readSettings({ BENCH_QUICK: "1" }).page, 0);
  assert.equal(readSettings({ BENCH_WORKLOADS: "idle" }).page, 0);
  assert.equal(
    readSettings({ ...asked, BENCH_PAGE_MESSAGES: "1000" }).page,
    1000,
  );
  assert.throws(
    () => readSettings({ ...asked, BENCH_PAGE_MESSAGES: "1.5" }),
    /Invalid BENCH_PAGE_MESSAGES "1.5"/,
  );
});
