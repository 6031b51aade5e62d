/**
 * `deno task bench`: runs every workload against the chat server, the raw
 * baseline and, when it is installed (bench/peers.ts), Bun's native pub/sub,
 * alternating them (server, baseline, bun, server, ...) so slow drift of the
 * machine hits all alike, prints one table and writes bench/results.json.
 *
 * Each run gets a fresh server process pinned to CPU 0 and a fresh load
 * process (bench/load.ts) pinned to CPU 1, when `taskset` exists. The
 * `workers` workloads instead run workload A against the chat server with
 * WORKERS=1 and WORKERS=2, nothing pinned, since two workers need both cores.
 *
 * Env knobs: BENCH_QUICK=1 (tiny CI run), BENCH_REPS, BENCH_SECONDS,
 * BENCH_WORKLOADS (burst32,burst1000,workers32,workers1000,capacity,idle,page;
 * page, the chat page in Chromium, is in full runs only: bench/page_render.ts),
 * BENCH_MEMBERS, BENCH_START_RATE, BENCH_MAX_RATE, BENCH_IDLE, BENCH_IDLE_SESSIONS, BENCH_OUT,
 * BENCH_PAGE_MESSAGES, BENCH_KV (file|memory), BENCH_PIN=0, BENCH_SERVER_ENV ("BATCH_MS=5,..."),
 * BENCH_CPU_PROF (a folder for the chat server's --cpu-prof profiles),
 * BENCH_BUN (0 = no Bun peer, 1 = use it in a quick run too, or a path),
 * BENCH_LOAD (deno, the default, or go: workload B is driven by the Go load of
 * bench/go_load, built on demand by bench/go_peer.ts, with a fallback to the
 * Deno load when Go is missing; the other workloads always use the Deno load).
 */
import type {
  BurstResult,
  CapacityResult,
  IdleResult,
  LoadConfig,
  LoadResult,
} from "./load.ts";
import { descendants, median, readProc } from "./metrics.ts";
import { findBun } from "./peers.ts";
import { findGoLoad } from "./go_peer.ts";
import { freePort } from "./ports.ts";
import {
  PAGE_WORKLOAD,
  pageMessages,
  pageTable,
  runPageWorkload,
} from "./page_render.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const LOAD_SCRIPT = new URL("./load.ts", import.meta.url).pathname;
const BASELINE_SCRIPT = new URL("./baseline_server.ts", import.meta.url)
  .pathname;
const BUN_SCRIPT = new URL("./bun_server.ts", import.meta.url).pathname;
const HOST = "127.0.0.1";
/** Above this CPU share the load process may be what limits a figure. */
const LOAD_CPU_LIMIT = 0.9;

/**
 * Extra server settings for the WORKERS runs. They once needed a long
 * HISTORY_SIZE because a worker lost messages the other had trimmed from
 * KV (fixed in the hub); they now run with the defaults, and
 * `BENCH_SERVER_ENV=HISTORY_SIZE=20` is a harder check of that fix.
 */
const WORKERS_ENV: Record<string, string> = {};

/** Which server a run drives. */
export type Target = "server" | "baseline" | "bun";

/** One workload of the suite. */
export interface WorkloadSpec {
  /** Short id: burst32, burst1000, workers32, workers1000, capacity, idle. */
  id: string;
  /** Label for the table. */
  label: string;
  /** The load process's parameters. */
  config: LoadConfig["workload"];
  /**
   * When set, the workload runs against the chat server once per WORKERS
   * value here, unpinned, instead of against the chat server and the
   * baseline: it measures how the server grows with cores.
   */
  workers?: number[];
  /** Chat server environment for this workload; BENCH_SERVER_ENV overrides it. */
  serverEnv?: Record<string, string>;
}

/** Everything a bench run is parameterised by. */
export interface Settings {
  /** Tiny CI run. */
  quick: boolean;
  /** Repetitions of the server/baseline pair. */
  reps: number;
  /** Workloads, in order. */
  workloads: WorkloadSpec[];
  /** Pin server and load to separate cores with taskset. */
  pin: boolean;
  /** Where results.json goes. */
  out: string;
  /** "file" keeps messages in a KV file under ./data like production; "memory" uses :memory:. */
  kv: "file" | "memory";
  /** Extra environment for the chat server. */
  serverEnv: Record<string, string>;
  /** Messages in the page workload's burst, 0 to skip it. */
  page: number;
  /** BENCH_BUN as given: "0", "1", a path, or unset. */
  bun?: string;
  /** Which load process drives workload B: the Deno one or the Go one. */
  load: LoadKind;
}

/** The load processes: bench/load.ts, or bench/go_load (workload B only). */
export type LoadKind = "deno" | "go";

/** Reads the settings from the environment. */
export function readSettings(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): Settings {
  const quick = env.BENCH_QUICK === "1";
  const num = (name: string, full: number, small: number) => {
    const raw = env[name];
    const value = raw === undefined || raw === "" ? NaN : Number(raw);
    if (raw !== undefined && raw !== "" && !(value > 0)) {
      throw new Error(`${name} must be a positive number, got "${raw}"`);
    }
    return Number.isFinite(value) ? value : quick ? small : full;
  };
  const measureMs = num("BENCH_SECONDS", 3, 0.5) * 1000;
  const warmupMs = quick ? 300 : 1000;
  // Workload A: `clients` members, each sending `perRound` messages a round.
  const burst = (clients: number, perRound: number, measure = measureMs) => ({
    label: `A burst ${clients}×${perRound}`,
    config: {
      kind: "burst" as const,
      clients,
      perRound,
      warmupMs,
      measureMs: measure,
      roundTimeoutMs: 30_000,
    },
  });
  // Workload A again, but for WORKERS=1 against WORKERS=2. Unpinned: two
  // workers need both cores, and pinning only the load would leave WORKERS=1
  // a core of its own that WORKERS=2 does not get.
  const scaled = (spec: ReturnType<typeof burst>) => ({
    label: `${spec.label}, unpinned`,
    config: spec.config,
    workers: [1, 2],
    serverEnv: WORKERS_ENV,
  });
  const all: WorkloadSpec[] = [
    { id: "burst32", ...burst(quick ? 4 : 32, quick ? 5 : 50) },
    { id: "burst1000", ...burst(quick ? 20 : 1000, 1) },
    {
      id: "workers32",
      // A quarter of a second still holds dozens of rounds; the smoke test runs this
      // twice on top of the rest, and it must stay well under 30 s.
      ...scaled(
        burst(
          quick ? 4 : 32,
          quick ? 5 : 50,
          quick ? measureMs / 2 : measureMs,
        ),
      ),
    },
    { id: "workers1000", ...scaled(burst(1000, 1)) },
    {
      id: "capacity",
      label: "B capacity",
      config: {
        kind: "capacity",
        members: num("BENCH_MEMBERS", 1000, 20),
        startRate: num("BENCH_START_RATE", 25, 1),
        maxRate: num("BENCH_MAX_RATE", 51_200, 50),
        stepMs: measureMs,
        warmupMs,
        drainMs: 2000,
        maxDrainMs: 30_000,
        p99LimitMs: 100,
        probeEvery: quick ? 1 : 10,
        paceMs: quick ? 0 : 20,
      },
    },
    {
      id: "idle",
      label: "C idle",
      config: {
        kind: "idle",
        connections: num("BENCH_IDLE", 10_000, 200),
        sessions: num("BENCH_IDLE_SESSIONS", 1000, 20),
        rooms: quick ? 4 : 100,
        concurrency: 128,
        settleMs: quick ? 300 : 2000,
      },
    },
  ];
  const wanted = (env.BENCH_WORKLOADS ?? "").split(",").map((s) => s.trim())
    .filter((s) => s);
  for (const id of wanted) {
    if (id !== PAGE_WORKLOAD && !all.some((w) => w.id === id)) {
      throw new Error(
        `BENCH_WORKLOADS: unknown workload "${id}" (known: ${
          all.map((w) => w.id).join(", ")
        })`,
      );
    }
  }
  const serverEnv: Record<string, string> = {};
  for (const pair of (env.BENCH_SERVER_ENV ?? "").split(",")) {
    const at = pair.indexOf("=");
    if (at > 0) serverEnv[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
  }
  const kv = env.BENCH_KV === "memory" ? "memory" : "file";
  const load = env.BENCH_LOAD || "deno";
  if (load !== "deno" && load !== "go") {
    throw new Error(`BENCH_LOAD must be "deno" or "go", got "${load}"`);
  }
  // A quick run keeps the small WORKERS comparison (it checks that two
  // workers start, deliver everything and stop) but not the 1,000 clients.
  const defaults = quick ? all.filter((w) => w.id !== "workers1000") : all;
  return {
    quick,
    reps: Math.round(num("BENCH_REPS", 3, 1)),
    workloads: wanted.length
      ? all.filter((w) => wanted.includes(w.id))
      : defaults,
    pin: env.BENCH_PIN !== "0",
    out: env.BENCH_OUT || `${ROOT}bench/results.json`,
    kv,
    serverEnv,
    page: (wanted.length ? wanted.includes(PAGE_WORKLOAD) : !quick)
      ? pageMessages(env, quick)
      : 0,
    bun: env.BENCH_BUN,
    load,
  };
}

/** A started server: its pid, port and how to stop it. */
interface Running {
  pid: number;
  port: number;
  /** V8 inspector port, or 0. */
  inspectPort: number;
  /** Processes the server had started once healthy (`deno serve` with WORKERS>1). */
  children: number[];
  /** Stops the server; resolves with the pids of children that outlived it and had to be killed. */
  stop(): Promise<number[]>;
  log: string;
}

/** How one run starts its server. */
interface StartOptions {
  /** Pin the server to CPU 0. */
  pin: boolean;
  /** Folder for the server logs. */
  logDir: string;
  /** Run number, for the log's name. */
  index: number;
  /** Open the V8 inspector (idle workload only). */
  inspect: boolean;
  /** WORKERS for the chat server; unset keeps the default (1). */
  workers?: number;
  /** The workload's own chat server environment. */
  serverEnv?: Record<string, string>;
  /** The chat server's `deno run ... main.ts` command, from {@linkcode startCommand}. */
  command: string[];
  /** The Bun binary, for the bun target. */
  bunPath?: string;
}

/**
 * The chat server's command: deno.json's `start` task, split into words, so
 * the bench runs exactly what `deno task start` runs (WORKERS>1 needs its
 * --allow-run=deno to spawn `deno serve`, for one).
 */
export async function startCommand(root = ROOT): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(`${root}deno.json`));
  const task = config.tasks?.start;
  const text = typeof task === "string" ? task : task?.command;
  const words = typeof text === "string" ? text.trim().split(/\s+/) : [];
  // Anything beyond plain words would need a shell to mean the same thing.
  if (
    words[0] !== "deno" || words[1] !== "run" || words.at(-1) !== "main.ts" ||
    words.some((w) => /[&|;<>$`'"\\*]/.test(w))
  ) {
    throw new Error(
      `deno.json: the start task is not a plain "deno run ... main.ts": ${text}`,
    );
  }
  return words;
}

function randomHex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

async function hasTaskset(): Promise<boolean> {
  try {
    const out = await new Deno.Command("taskset", {
      args: ["-c", "0", "true"],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success && navigator.hardwareConcurrency >= 2;
  } catch {
    return false;
  }
}

/** Prefixes a command with `taskset -c <cpu>` when pinning. */
function pinned(
  pin: boolean,
  cpu: number,
  command: string[],
): [string, string[]] {
  return pin
    ? ["taskset", ["-c", String(cpu), ...command]]
    : [command[0], command.slice(1)];
}

async function startTarget(
  target: Target,
  settings: Settings,
  options: StartOptions,
): Promise<Running> {
  const { pin, logDir, index, inspect } = options;
  const port = freePort(HOST);
  const inspectPort = inspect ? freePort(HOST) : 0;
  const kvFile = `./data/bench-${randomHex(6)}.db`;
  const env: Record<string, string> = target !== "server"
    ? { PORT: String(port), HOST }
    : {
      PORT: String(port),
      HOST,
      COOKIE_SECRET: randomHex(32),
      KV_PATH: settings.kv === "memory" ? ":memory:" : kvFile,
      // The bench measures fan-out, not the abuse limits.
      RATE_BURST: "1000000",
      RATE_PER_SECOND: "1000000",
      // Every bench client comes from one address.
      ADDRESS_RATE_BURST: "100000000",
      ADDRESS_RATE_PER_SECOND: "100000000",
      LOGIN_RATE_BURST: "1000000",
      LOGIN_RATE_PER_MINUTE: "100000000",
      ROOM_CREATE_BURST: "1000000",
      ROOM_CREATE_PER_HOUR: "1000000",
      MAX_CONNECTIONS_PER_IP: "100000",
      MAX_CONNECTIONS: "100000",
      // A reader a few ms behind during a burst must not be evicted.
      SLOW_CLIENT_BYTES: String(64 * 1024 * 1024),
      // Welcome frames stay small, so joining measures joining.
      HISTORY_ON_JOIN: "0",
      ...options.serverEnv,
      ...settings.serverEnv,
      ...(options.workers ? { WORKERS: String(options.workers) } : {}),
    };
  // The same command as `deno task start`; the baseline needs only the net.
  const denoArgs = target === "baseline"
    ? ["deno", "run", "--allow-net", "--allow-env", BASELINE_SCRIPT]
    : target === "bun"
    ? [options.bunPath ?? "bun", "run", BUN_SCRIPT]
    : [...options.command];
  // Only the idle workload adds the inspector: it lets the load force a GC
  // and read the live heap; the busy workloads run the plain command.
  if (inspect) denoArgs.splice(2, 0, `--inspect=${HOST}:${inspectPort}`);
  // BENCH_CPU_PROF=<dir> writes a V8 CPU profile of every chat server run.
  const profDir = Deno.env.get("BENCH_CPU_PROF");
  if (profDir && target === "server") {
    denoArgs.splice(2, 0, "--cpu-prof", `--cpu-prof-dir=${profDir}`);
  }
  const [cmd, args] = pinned(pin, 0, denoArgs);
  if (target === "server" && settings.kv === "file") {
    await Deno.mkdir(`${ROOT}data`, { recursive: true });
  }
  const log = `${logDir}/${index}-${target}.log`;
  const file = await Deno.open(log, { write: true, create: true });
  const child = new Deno.Command(cmd, {
    args,
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Both streams go to one log; lines may interleave, which is fine for a log.
  const writer = file.writable.getWriter();
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) await writer.write(chunk);
  };
  const copied = Promise.all([drain(child.stdout), drain(child.stderr)])
    .finally(() => writer.close().catch(() => {}));
  let children: number[] = [];
  const stop = async (): Promise<number[]> => {
    // SIGTERM to the parent only: with WORKERS>1 it forwards the signal to
    // its `deno serve` child and waits for it, which is the shutdown path
    // production takes.
    try {
      child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }, 6000);
    await child.status;
    clearTimeout(timer);
    // Whatever the parent left behind would hold the port and a core through
    // every later run; it is killed by pid and reported.
    const left = await stillRunning(children, 2000);
    for (const pid of left) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // Gone meanwhile.
      }
    }
    await copied.catch(() => {});
    if (target === "server" && settings.kv === "file") {
      for (const suffix of ["", "-wal", "-shm"]) {
        await Deno.remove(`${ROOT}${kvFile.slice(2)}${suffix}`).catch(() => {});
      }
    }
    return left;
  };
  const deadline = performance.now() + 30_000;
  let exited = false;
  child.status.then(() => exited = true);
  while (true) {
    if (exited) {
      await copied.catch(() => {});
      throw new Error(
        `${target} exited during start:\n${await tail(log)}`,
      );
    }
    try {
      const res = await fetch(`http://${HOST}:${port}/healthz`);
      const body = await res.json();
      if (res.ok && body.status === "ok") break;
    } catch {
      // Not listening yet.
    }
    if (performance.now() > deadline) {
      await stop();
      throw new Error(`${target} did not become healthy:\n${await tail(log)}`);
    }
    // Polled often: every run waits here, and a quick run has ten of them.
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  // With WORKERS>1 the child answered /healthz, so it exists by now.
  children = await descendants(child.pid);
  return { pid: child.pid, port, inspectPort, children, stop, log };
}

/** Those of `pids` still alive after waiting up to `ms` for them to exit. */
async function stillRunning(pids: number[], ms: number): Promise<number[]> {
  const deadline = performance.now() + ms;
  while (true) {
    const alive: number[] = [];
    for (const pid of pids) if (await isAlive(pid)) alive.push(pid);
    if (alive.length === 0 || performance.now() > deadline) return alive;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function isAlive(pid: number): Promise<boolean> {
  try {
    const stat = await readProc(`/proc/${pid}/stat`);
    // A zombie has exited; its parent (init, once ours is gone) reaps it.
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !==
      "Z";
  } catch {
    return false;
  }
}

async function tail(path: string): Promise<string> {
  try {
    return (await Deno.readTextFile(path)).split("\n").slice(-20).join("\n");
  } catch {
    return "(no log)";
  }
}

async function runLoadProcess(
  config: LoadConfig,
  options: { pin: boolean; goLoad?: string },
): Promise<LoadResult> {
  // The Go load runs workload B only; GOMAXPROCS=1 keeps it to one core,
  // like the Deno load, whether pinned or not.
  const go = options.goLoad !== undefined &&
    config.workload.kind === "capacity";
  // --allow-run=cat: Deno wants --allow-all to read /proc/<pid>/, cat does not.
  const [cmd, args] = pinned(
    options.pin,
    1,
    go ? [options.goLoad!, JSON.stringify(config)] : [
      "deno",
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-run=cat",
      LOAD_SCRIPT,
      JSON.stringify(config),
    ],
  );
  const out = await new Deno.Command(cmd, {
    args,
    cwd: ROOT,
    env: go ? { GOMAXPROCS: "1" } : undefined,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) {
    throw new Error(
      `load process failed (exit ${out.code}) on ${config.target}: ${text}`,
    );
  }
  return JSON.parse(text.slice(text.lastIndexOf("\n") + 1)) as LoadResult;
}

/** One run: a repetition of one workload against one target. */
export interface RunRecord {
  /** Repetition, from 1. */
  rep: number;
  /** Workload id. */
  workload: string;
  /** Which server. */
  target: Target;
  /** WORKERS of the chat server, for the workloads that vary it. */
  workers?: number;
  /** Whether server and load were pinned to a core each. */
  pinned: boolean;
  /** Which load process ran it; absent means the Deno one. */
  load?: LoadKind;
  /** What the load process measured. */
  result: LoadResult;
}

/** Median, smallest and largest of a set of figures. */
export interface Spread {
  /** Median. */
  median: number;
  /** Smallest. */
  min: number;
  /** Largest. */
  max: number;
}

/** One row of the summary table. */
export interface SummaryRow {
  /** Workload id. */
  workload: string;
  /** Table label. */
  label: string;
  /** What the figures are. */
  metric: string;
  /** Whether bigger is better. */
  higherIsBetter: boolean;
  /** Chat server figures over repetitions. */
  server: Spread;
  /** Baseline figures over repetitions. */
  baseline: Spread;
  /** Bun figures over repetitions (NaN when Bun did not run). */
  bun: Spread;
  /** server / baseline, paired per repetition. */
  ratio: Spread;
  /** server / Bun, paired per repetition. */
  bunRatio: Spread;
  /** server − baseline, paired per repetition. */
  difference: Spread;
  /** Deliveries (or connections) lost over all runs of this workload. */
  lost: number;
  /** Deliveries duplicated over all runs of this workload. */
  duplicated: number;
  /** Highest load CPU share of any run of this workload. */
  loadCpuMax: number;
  /** Whether the load process may have been the limit. */
  loadLimited: boolean;
}

function spread(values: number[]): Spread {
  return {
    median: median(values),
    min: Math.min(...values),
    max: Math.max(...values),
  };
}

function metricOf(result: LoadResult, metric: string): number {
  switch (result.kind) {
    case "burst":
      return (result as BurstResult).deliveriesPerSecond;
    case "capacity":
      return (result as CapacityResult).capacity;
    case "idle": {
      const idle = result as IdleResult;
      return metric === "connect"
        ? idle.connectMs
        : metric === "heap"
        ? idle.heapPerConnection ?? NaN
        : metric === "rawRss"
        ? idle.rssPerConnectionNoGc
        : idle.rssPerConnection;
    }
  }
}

function loadLimitedOf(result: LoadResult): boolean {
  return result.kind === "capacity"
    ? (result as CapacityResult).loadLimited
    : result.loadCpu > LOAD_CPU_LIMIT;
}

/** Deliveries lost and duplicated over all of `runs`. */
function losses(runs: RunRecord[]): { lost: number; duplicated: number } {
  let lost = 0;
  let duplicated = 0;
  for (const { result } of runs) {
    lost += result.lost;
    duplicated += result.duplicated;
  }
  return { lost, duplicated };
}

/** The runs of workload `w`. */
function runsOf(runs: RunRecord[], w: WorkloadSpec): RunRecord[] {
  return runs.filter((r) => r.workload === w.id);
}

/** Builds the summary rows from the runs. */
export function summarise(
  runs: RunRecord[],
  workloads: WorkloadSpec[],
): SummaryRow[] {
  const rows: SummaryRow[] = [];
  for (const w of workloads) {
    if (w.workers) continue; // In scalingSummary.
    const metrics: [string, string, boolean][] = w.config.kind === "burst"
      ? [["rate", "deliveries/s", true]]
      : w.config.kind === "capacity"
      ? [["capacity", "publishes/s (p99 < 100 ms, no loss)", true]]
      : [
        ["rss", "server RSS growth after full GC, bytes per connection", false],
        ["rawRss", "server RSS growth without GC, bytes per connection", false],
        ["heap", "live V8 heap after GC, bytes per connection", false],
        ["connect", `ms to connect ${w.config.connections}`, false],
      ];
    const mine = runsOf(runs, w);
    for (const [key, metric, higherIsBetter] of metrics) {
      const of = (target: Target) =>
        mine.filter((r) => r.target === target).sort((a, b) => a.rep - b.rep);
      const server = of("server");
      const baseline = of("baseline");
      const bun = of("bun");
      const ratios: number[] = [];
      const bunRatios: number[] = [];
      const differences: number[] = [];
      for (const s of server) {
        const b = baseline.find((r) => r.rep === s.rep);
        const u = bun.find((r) => r.rep === s.rep);
        if (u) {
          bunRatios.push(metricOf(s.result, key) / metricOf(u.result, key));
        }
        if (!b) continue;
        ratios.push(metricOf(s.result, key) / metricOf(b.result, key));
        differences.push(metricOf(s.result, key) - metricOf(b.result, key));
      }
      rows.push({
        workload: w.id,
        label: w.label,
        metric,
        higherIsBetter,
        server: spread(server.map((r) => metricOf(r.result, key))),
        baseline: spread(baseline.map((r) => metricOf(r.result, key))),
        bun: spread(bun.map((r) => metricOf(r.result, key))),
        ratio: spread(ratios),
        bunRatio: spread(bunRatios),
        difference: spread(differences),
        ...losses(mine),
        loadCpuMax: Math.max(0, ...mine.map((r) => r.result.loadCpu)),
        loadLimited: mine.some((r) => loadLimitedOf(r.result)),
      });
    }
  }
  return rows;
}

/** One row of the WORKERS table: one workload at each WORKERS value. */
export interface ScalingRow {
  /** Workload id. */
  workload: string;
  /** Table label. */
  label: string;
  /** WORKERS values, in run order; the first is the reference. */
  workers: number[];
  /** Deliveries per second over repetitions, per WORKERS value. */
  rate: Spread[];
  /** Each value's rate / the first's, paired per repetition. */
  ratio: Spread[];
  /** Median server CPU share (1 = one core), child processes included, per value. */
  serverCpu: number[];
  /** Median load CPU share, per value. */
  loadCpu: number[];
  /** Median of (server + load) CPU shares: 2 is both cores busy. */
  totalCpu: number[];
  /** Median server CPU microseconds spent per delivery, per value. */
  cpuPerDeliveryUs: number[];
  /** Deliveries lost over all runs of this workload. */
  lost: number;
  /** Deliveries duplicated over all runs of this workload. */
  duplicated: number;
}

/** Builds the WORKERS comparison from the runs of the workloads that vary it. */
export function scalingSummary(
  runs: RunRecord[],
  workloads: WorkloadSpec[],
): ScalingRow[] {
  return workloads.flatMap((w) =>
    w.workers ? [scalingRow(w, w.workers, runsOf(runs, w))] : []
  );
}

/** One workload's rate and CPU at each of its WORKERS values. */
function scalingRow(
  w: WorkloadSpec,
  workers: number[],
  mine: RunRecord[],
): ScalingRow {
  const at = (n: number) =>
    mine.filter((r) => r.workers === n).sort((a, b) => a.rep - b.rep);
  const rate = (r: RunRecord) => metricOf(r.result, "rate");
  const first = at(workers[0]);
  return {
    workload: w.id,
    label: w.label,
    workers,
    rate: workers.map((n) => spread(at(n).map(rate))),
    ratio: workers.map((n) => {
      const ratios: number[] = [];
      for (const r of at(n)) {
        const ref = first.find((f) => f.rep === r.rep);
        if (ref) ratios.push(rate(r) / rate(ref));
      }
      return spread(ratios);
    }),
    serverCpu: workers.map((n) => median(at(n).map((r) => r.result.serverCpu))),
    loadCpu: workers.map((n) => median(at(n).map((r) => r.result.loadCpu))),
    totalCpu: workers.map((n) =>
      median(at(n).map((r) => r.result.serverCpu + r.result.loadCpu))
    ),
    cpuPerDeliveryUs: workers.map((n) =>
      median(at(n).map((r) => r.result.serverCpu / rate(r) * 1e6))
    ),
    ...losses(mine),
  };
}

function fmtNumber(value: number): string {
  if (!Number.isFinite(value)) return "–";
  const abs = Math.abs(value);
  if (abs >= 100) return Math.round(value).toLocaleString("en-US");
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function fmtSpread(s: Spread): string {
  if (!Number.isFinite(s.median)) return "–";
  return s.min === s.max
    ? fmtNumber(s.median)
    : `${fmtNumber(s.median)} (${fmtNumber(s.min)}–${fmtNumber(s.max)})`;
}

/** The summary as a Markdown table. */
export function summaryTable(rows: SummaryRow[]): string {
  const lines = [
    "| Workload | Metric | Chat server | Raw Deno | Server / raw | Bun pub/sub | Server / Bun | Lost / dup | Load CPU max | Note |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
  ];
  for (const r of rows) {
    const notes: string[] = [];
    if (r.workload === "idle" && !r.metric.startsWith("ms")) {
      notes.push(`app adds ${fmtSpread(r.difference)} B per connection`);
    }
    if (r.loadLimited) {
      notes.push(
        `load process above ${LOAD_CPU_LIMIT * 100}%: it may be the limit`,
      );
    }
    const note = notes.join("; ");
    lines.push(
      `| ${r.label} | ${r.metric} | ${fmtSpread(r.server)} | ${
        fmtSpread(r.baseline)
      } | ${fmtSpread(r.ratio)} | ${fmtSpread(r.bun)} | ${
        fmtSpread(r.bunRatio)
      } | ${r.lost} / ${r.duplicated} | ${
        Math.round(r.loadCpuMax * 100)
      }% | ${note} |`,
    );
  }
  return lines.join("\n");
}

/** The WORKERS comparison as a Markdown table. */
export function scalingTable(rows: ScalingRow[]): string {
  const workers = rows[0]?.workers ?? [];
  const ref = workers[0];
  const lines = [
    `| Workload | ${
      workers.map((n) => `WORKERS=${n} deliveries/s`).join(" | ")
    } | ${
      workers.slice(1).map((n) => `${n} / ${ref}`).join(" | ")
    } | Server CPU | Load CPU | Both | Server CPU µs / delivery | Lost / dup |`,
    `| --- | ${workers.map(() => "---:").join(" | ")} | ${
      workers.slice(1).map(() => "---:").join(" | ")
    } | ---: | ---: | ---: | ---: | ---: |`,
  ];
  const pcts = (values: number[]) =>
    values.map((v) => `${Math.round(v * 100)}%`).join(" / ");
  for (const r of rows) {
    lines.push(
      `| ${r.label} | ${r.rate.map(fmtSpread).join(" | ")} | ${
        r.ratio.slice(1).map(fmtSpread).join(" | ")
      } | ${pcts(r.serverCpu)} | ${pcts(r.loadCpu)} | ${pcts(r.totalCpu)} | ${
        r.cpuPerDeliveryUs.map(fmtNumber).join(" / ")
      } | ${r.lost} / ${r.duplicated} |`,
    );
  }
  return lines.join("\n");
}

/** Every capacity step of every run as a Markdown table. */
export function stepsTable(runs: RunRecord[]): string {
  const lines = [
    "| Target | Rep | Rate/s | p50 ms | p99 ms | max ms | p99 all ms | Msgs / frame | Delivered / expected | Load CPU | Server CPU | Pass |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
  ];
  for (const run of runs) {
    if (run.result.kind !== "capacity") continue;
    for (const s of (run.result as CapacityResult).steps) {
      lines.push(
        `| ${run.target} | ${run.rep} | ${s.rate} | ${fmtNumber(s.p50Ms)} | ${
          fmtNumber(s.p99Ms)
        } | ${fmtNumber(s.maxMs)} | ${fmtNumber(s.allP99Ms)} | ${
          fmtNumber(s.eventsPerFrame)
        } | ${s.delivered} / ${s.expected} | ${
          Math.round(s.loadCpu * 100)
        }% | ${Math.round(s.serverCpu * 100)}% | ${s.pass ? "yes" : "no"} |`,
      );
    }
  }
  return lines.join("\n");
}

/** Idle-connection figures of every run as a Markdown table. */
export function idleTable(runs: RunRecord[]): string {
  const lines = [
    "| Target | Rep | Open | RSS before MiB | RSS after MiB | RSS B / conn | RSS B / conn no GC | Heap before MiB | Heap after MiB | Heap B / conn | Connect ms | First frame ms | Load CPU | Server CPU |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  const mib = (b: number | null) => b === null ? "–" : (b / 1048576).toFixed(1);
  for (const run of runs) {
    if (run.result.kind !== "idle") continue;
    const r = run.result as IdleResult;
    lines.push(
      `| ${run.target} | ${run.rep} | ${r.open} | ${mib(r.rssBefore)} | ${
        mib(r.rssAfter)
      } | ${Math.round(r.rssPerConnection)} | ${
        Math.round(r.rssPerConnectionNoGc)
      } | ${mib(r.heapBefore)} | ${mib(r.heapAfter)} | ${
        r.heapPerConnection === null ? "–" : Math.round(r.heapPerConnection)
      } | ${Math.round(r.connectMs)} | ${
        r.firstFrameMs === null ? "–" : Math.round(r.firstFrameMs)
      } | ${Math.round(r.loadCpu * 100)}% | ${
        Math.round(r.serverCpu * 100)
      }% |`,
    );
  }
  return lines.join("\n");
}

async function denoVersion(): Promise<string> {
  const out = await new Deno.Command("deno", { args: ["--version"] }).output();
  return new TextDecoder().decode(out.stdout).trim();
}

async function cpuModel(): Promise<string> {
  try {
    const info = await readProc("/proc/cpuinfo");
    return /^model name\s*:\s*(.+)$/m.exec(info)?.[1] ?? "unknown";
  } catch {
    return "unknown";
  }
}

/** Runs the whole suite and returns what results.json holds. */
export async function runBench(settings: Settings) {
  const pin = settings.pin && await hasTaskset();
  console.log(
    pin
      ? "Pinning: chat/baseline server on CPU 0, load process on CPU 1 (taskset)."
      : settings.pin
      ? "Not pinned: taskset is missing or there is only one CPU; figures share cores."
      : "Not pinned (BENCH_PIN=0).",
  );
  if (settings.workloads.some((w) => w.workers)) {
    console.log(
      "WORKERS runs: chat server and load not pinned, sharing both CPUs.",
    );
  }
  const command = await startCommand();
  const peer = await findBun({ BENCH_BUN: settings.bun }, settings.quick);
  console.log(peer.note);
  const goLoad = settings.load === "go" &&
      settings.workloads.some((w) => w.config.kind === "capacity")
    ? await findGoLoad()
    : undefined;
  if (goLoad) {
    console.log(
      goLoad.load ? goLoad.note : `${goLoad.note}; B runs the Deno load.`,
    );
  }
  const loadOf = (w: WorkloadSpec): LoadKind =>
    goLoad?.load && w.config.kind === "capacity" ? "go" : "deno";
  const logDir = await Deno.makeTempDir({ prefix: "chat-bench-" });
  console.log(`Server logs: ${logDir}`);
  const started = new Date();
  const runs: RunRecord[] = [];
  /** Children that outlived their server's stop and had to be killed. */
  const leftover: number[] = [];
  let index = 0;
  for (let rep = 1; rep <= settings.reps; rep++) {
    for (const w of settings.workloads) {
      // Server then baseline, back to back, for every workload and
      // repetition; or each WORKERS value in turn, likewise back to back.
      const variants: { target: Target; workers?: number }[] = w.workers
        ? w.workers.map((workers) => ({ target: "server", workers }))
        : [{ target: "server" }, { target: "baseline" }];
      // Bun has no inspector to force a GC with, so it skips workload C.
      if (peer.bun && !w.workers && w.config.kind !== "idle") {
        variants.push({ target: "bun" });
      }
      const runPinned = pin && !w.workers;
      for (const { target, workers } of variants) {
        index++;
        const name = workers ? `server WORKERS=${workers}` : target;
        console.log(`[rep ${rep}/${settings.reps}] ${w.label} → ${name}`);
        const running = await startTarget(target, settings, {
          pin: runPinned,
          logDir,
          index,
          inspect: w.config.kind === "idle",
          workers,
          serverEnv: w.serverEnv,
          command,
          bunPath: peer.bun?.path,
        });
        let result: LoadResult;
        try {
          result = await runLoadProcess({
            target,
            hostname: HOST,
            port: running.port,
            serverPid: running.pid,
            inspectPort: running.inspectPort,
            workload: w.config,
          }, {
            pin: runPinned,
            goLoad: loadOf(w) === "go" ? goLoad?.load?.path : undefined,
          });
        } finally {
          const left = await running.stop();
          if (left.length) {
            console.error(
              `  ${name} left ${
                left.join(", ")
              } running after it exited: killed`,
            );
            leftover.push(...left);
          }
        }
        console.log(`  ${brief(result)}`);
        runs.push({
          rep,
          workload: w.id,
          target,
          ...(workers ? { workers } : {}),
          pinned: runPinned,
          load: loadOf(w),
          result,
        });
      }
    }
  }
  const page = settings.page
    ? await runPageWorkload(() =>
      startTarget("server", settings, {
        pin: false,
        logDir,
        index: ++index,
        inspect: false,
        command,
      }), { host: HOST, messages: settings.page })
    : undefined;
  const summary = summarise(runs, settings.workloads);
  const scaling = scalingSummary(runs, settings.workloads);
  const lost = runs.reduce((sum, r) => sum + r.result.lost, 0);
  const duplicated = runs.reduce((sum, r) => sum + r.result.duplicated, 0);
  return {
    date: started.toISOString(),
    seconds: (Date.now() - started.getTime()) / 1000,
    quick: settings.quick,
    deno: await denoVersion(),
    cpu: await cpuModel(),
    cores: navigator.hardwareConcurrency,
    pinned: pin,
    serverCommand: command,
    bun: peer.bun ?? null,
    bunNote: peer.note,
    // Workload B's load process: "go" only when asked for and built.
    capacityLoad: goLoad?.load ? "go" : "deno",
    goLoad: goLoad?.load ?? null,
    goLoadNote: goLoad?.note ?? null,
    settings: {
      reps: settings.reps,
      kv: settings.kv,
      serverEnv: settings.serverEnv,
      workloads: settings.workloads,
    },
    summary,
    scaling,
    runs,
    page,
    lost,
    duplicated,
    leftoverProcesses: leftover.length,
    ok: lost === 0 && duplicated === 0 && leftover.length === 0 &&
      (page?.ok ?? true),
  };
}

function brief(r: LoadResult): string {
  const cpu = `load CPU ${Math.round(r.loadCpu * 100)}%, server CPU ${
    Math.round(r.serverCpu * 100)
  }%`;
  const loss = `lost ${r.lost}, dup ${r.duplicated}`;
  const errors = r.errors.length ? `; errors: ${r.errors.join(" | ")}` : "";
  if (r.kind === "burst") {
    const b = r as BurstResult;
    const processes = b.serverProcesses > 1
      ? ` (${b.serverProcesses} processes)`
      : "";
    return `${
      fmtNumber(b.deliveriesPerSecond)
    } deliveries/s over ${b.rounds} rounds; ${loss}; ${cpu}${processes}${errors}`;
  }
  if (r.kind === "capacity") {
    const c = r as CapacityResult;
    return `capacity ${c.capacity}/s; ${loss}; ${cpu}${errors}`;
  }
  const i = r as IdleResult;
  return `${i.open} open, ${Math.round(i.rssPerConnection)} B/conn, connect ${
    Math.round(i.connectMs)
  } ms; ${loss}; ${cpu}${errors}`;
}

if (import.meta.main) {
  const settings = readSettings();
  const results = await runBench(settings);
  if (results.summary.length) {
    console.log("");
    console.log(summaryTable(results.summary));
  }
  if (results.scaling.length) {
    console.log("\nWORKERS=1 against WORKERS=2, nothing pinned:\n");
    console.log(scalingTable(results.scaling));
  }
  if (results.runs.some((r) => r.result.kind === "capacity")) {
    console.log("\nCapacity steps (p50/p99/max from probe members):\n");
    console.log(stepsTable(results.runs));
  }
  if (results.page) {
    console.log(`\nThe page in Chromium:\n\n${pageTable(results.page)}`);
  }
  if (results.runs.some((r) => r.result.kind === "idle")) {
    console.log("\nIdle connections:\n");
    console.log(idleTable(results.runs));
  }
  await Deno.writeTextFile(
    settings.out,
    JSON.stringify(results, null, 2) + "\n",
  );
  console.log(`\nWrote ${settings.out} (${Math.round(results.seconds)} s).`);
  if (!results.ok) {
    console.error(
      `Lost ${results.lost} and duplicated ${results.duplicated} deliveries; ${results.leftoverProcesses} server processes outlived their parent.`,
    );
    Deno.exit(1);
  }
}
