/**
 * The load process: logs clients in over HTTP, opens their WebSockets and runs
 * one workload against one target, then prints its result as one JSON line on
 * stdout. `bench/run.ts` spawns it as its own process (pinned to its own core
 * when it can) so its work never shares a core with the server's.
 *
 * Usage: deno run --allow-net --allow-read --allow-run=cat bench/load.ts '<LoadConfig JSON>'
 */
import { BenchSocket, concat, encodeTextFrame } from "./ws_client.ts";
import {
  CpuMeter,
  formatTag,
  Histogram,
  median,
  nowUs,
  rssBytes,
  scanTags,
} from "./metrics.ts";

/** Where to send the load, and the workload's parameters. */
export interface LoadConfig {
  /** Which server this is, for the report. */
  target: "server" | "baseline" | "bun";
  /** Server host (loopback). */
  hostname: string;
  /** Server port. */
  port: number;
  /**
   * Server process id, for its CPU and RSS; 0 when unknown. Its CPU includes
   * the processes it started (the `deno serve` of WORKERS>1); RSS is its own.
   */
  serverPid: number;
  /** Port of the server's V8 inspector, for a forced GC and the live heap; 0 when off. */
  inspectPort?: number;
  /** What to run. */
  workload: BurstConfig | CapacityConfig | IdleConfig;
}

/** A: closed-loop bursts; every client sends `perRound`, the round ends when all got everything. */
export interface BurstConfig {
  /** Workload kind. */
  kind: "burst";
  /** Clients, all in one room; each sends and receives. */
  clients: number;
  /** Messages each client sends per round. */
  perRound: number;
  /** Rounds run this long before measuring starts. */
  warmupMs: number;
  /** Rounds are measured until this much time has passed (at least one round). */
  measureMs: number;
  /** A round still incomplete after this long counts its missing deliveries as lost. */
  roundTimeoutMs: number;
}

/** B: open-loop publishing into one room at doubling rates until latency or loss breaks. */
export interface CapacityConfig {
  /** Workload kind. */
  kind: "capacity";
  /** Room members; each is a logged-in user with one socket. */
  members: number;
  /** First rate, publishes per second. */
  startRate: number;
  /** No step above this rate runs. */
  maxRate: number;
  /** Publishing time per step. */
  stepMs: number;
  /** A step at the start rate, not recorded. */
  warmupMs: number;
  /** After the last publish, a step waits for the rest until nothing came for this long. */
  drainMs: number;
  /** ... and never longer than this in all, so a collapsed server ends the step. */
  maxDrainMs: number;
  /** A step passes only with p99 below this. */
  p99LimitMs: number;
  /** Every this-many-th member reads at once and gives the latency figures; 1 = all do. */
  probeEvery: number;
  /** The other members read at most once per this many ms (0 = no pacing). */
  paceMs: number;
}

/** C: many idle connections; server memory per connection and time to connect. */
export interface IdleConfig {
  /** Workload kind. */
  kind: "idle";
  /** Sockets to open. */
  connections: number;
  /** Users logged in; sockets are shared out among their cookies. */
  sessions: number;
  /** Rooms the sockets are spread over. */
  rooms: number;
  /** Handshakes in flight at once. */
  concurrency: number;
  /** Wait after connecting before reading RSS. */
  settleMs: number;
}

/** Result of a burst workload. */
export interface BurstResult {
  /** Workload kind. */
  kind: "burst";
  /** Clients. */
  clients: number;
  /** Messages per client per round. */
  perRound: number;
  /** Measured rounds. */
  rounds: number;
  /** Deliveries in measured rounds. */
  deliveries: number;
  /** Measured time. */
  seconds: number;
  /** Deliveries per second over the measured rounds. */
  deliveriesPerSecond: number;
  /** Deliveries that never came, in any round. */
  lost: number;
  /** Deliveries that came twice, in any round. */
  duplicated: number;
  /** Load process CPU share while measuring. */
  loadCpu: number;
  /** Server CPU share while measuring, its child processes included (1 = one core). */
  serverCpu: number;
  /** Processes that server CPU was summed over: 1, or 2 with WORKERS>1. */
  serverProcesses: number;
  /** Events per message-carrying frame over the measured rounds (1 = no coalescing). */
  eventsPerFrame: number;
  /** Error frames and failures seen. */
  errors: string[];
}

/** One rate step of the capacity workload. */
export interface CapacityStep {
  /** Target publishes per second. */
  rate: number;
  /** Publishes actually sent. */
  sent: number;
  /** Publishes per second actually achieved by the load. */
  sentRate: number;
  /** sent × members. */
  expected: number;
  /** Distinct deliveries received. */
  delivered: number;
  /** expected − delivered. */
  lost: number;
  /** Deliveries that came twice. */
  duplicated: number;
  /** Median latency, ms. */
  p50Ms: number;
  /** 99th percentile latency, ms. */
  p99Ms: number;
  /** Largest latency, ms. */
  maxMs: number;
  /** 99th percentile over all members, paced ones included (up to one pace late). */
  allP99Ms: number;
  /** Messages per frame received: 1 without batching. */
  eventsPerFrame: number;
  /** Load process CPU share while publishing. */
  loadCpu: number;
  /** Server process CPU share while publishing. */
  serverCpu: number;
  /** p99 under the limit and nothing lost or duplicated. */
  pass: boolean;
}

/** Result of the capacity workload. */
export interface CapacityResult {
  /** Workload kind. */
  kind: "capacity";
  /** Room members. */
  members: number;
  /** Every step run, in order. */
  steps: CapacityStep[];
  /** Highest passing rate before the first failing step; 0 when the first failed. */
  capacity: number;
  /** Whether the load process was above 90% CPU in a step up to the first failure. */
  loadLimited: boolean;
  /** Deliveries lost over all steps. */
  lost: number;
  /** Deliveries duplicated over all steps. */
  duplicated: number;
  /** Highest load CPU share of any step. */
  loadCpu: number;
  /** Highest server CPU share of any step. */
  serverCpu: number;
  /** Error frames and failures seen. */
  errors: string[];
}

/** Result of the idle workload. */
export interface IdleResult {
  /** Workload kind. */
  kind: "idle";
  /** Sockets asked for. */
  connections: number;
  /** Sockets open at the end. */
  open: number;
  /** Connections the server reported in /healthz at the end, when it did. */
  serverConnections: number | null;
  /** Server RSS before connecting, bytes. */
  rssBefore: number;
  /** Server RSS after connecting and settling, bytes. */
  rssAfter: number;
  /** (rssAfter − rssBefore) / open; both read after a forced full GC when the inspector is on. */
  rssPerConnection: number;
  /** The same growth read before forcing any GC: garbage and allocator slack included. */
  rssPerConnectionNoGc: number;
  /** Live V8 heap after a full GC, before connecting, bytes; null without the inspector. */
  heapBefore: number | null;
  /** Live V8 heap after a full GC, connections open, bytes; null without the inspector. */
  heapAfter: number | null;
  /** (heapAfter − heapBefore) / open; null without the inspector. */
  heapPerConnection: number | null;
  /** From the first handshake to the last 101 response. */
  connectMs: number;
  /** From the first handshake until every socket had its first frame; null when the server sends none. */
  firstFrameMs: number | null;
  /** Load process CPU share while connecting. */
  loadCpu: number;
  /** Server process CPU share while connecting. */
  serverCpu: number;
  /** Sockets that failed to connect count as lost. */
  lost: number;
  /** Always 0; kept so every result has the same loss fields. */
  duplicated: number;
  /** Error frames and failures seen. */
  errors: string[];
}

/** Any workload's result, plus which target it ran against. */
export type LoadResult = (BurstResult | CapacityResult | IdleResult) & {
  /** Which server. */
  target: "server" | "baseline" | "bun";
};

const decoder = new TextDecoder();
const ERROR_TYPE = new TextEncoder().encode('"type":"error"');
const MAX_ERRORS = 10;

/** State shared by one load run: address, counters, errors. */
class Load {
  readonly config: LoadConfig;
  readonly base: string;
  /** Frames received, for the quiet-period check. */
  frames = 0;
  /** Distinct error descriptions, capped. */
  errors: string[] = [];
  #errorCount = 0;

  constructor(config: LoadConfig) {
    this.config = config;
    this.base = `http://${config.hostname}:${config.port}`;
  }

  /** Records a problem once, with a count past the cap. */
  error(text: string) {
    this.#errorCount++;
    if (this.errors.length < MAX_ERRORS) this.errors.push(text);
    else {this.errors[MAX_ERRORS - 1] = `… and ${
        this.#errorCount - MAX_ERRORS + 1
      } more`;}
  }

  /** Looks into a frame that carried no tag: only error frames matter. */
  untagged(data: Uint8Array, start: number, end: number) {
    // Error frames are small; big untagged frames (welcome) are not scanned.
    if (end - start > 4096) return;
    if (indexOfBytes(data, start, end, ERROR_TYPE) >= 0) {
      this.error(decoder.decode(data.subarray(start, end)).slice(0, 200));
    }
  }

  /** Logs a user in like a browser form post and returns its `session=...` cookie. */
  async login(nickname: string): Promise<string> {
    const res = await fetch(`${this.base}/login`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        // The server's CSRF check wants a same-origin form post.
        origin: this.base,
      },
      body: `nickname=${encodeURIComponent(nickname)}`,
      redirect: "manual",
    });
    await res.body?.cancel();
    if (res.status !== 303) {
      throw new Error(`login ${nickname}: HTTP ${res.status}`);
    }
    const cookie = res.headers.getSetCookie().map((c) => c.split(";")[0])
      .find((c) => c.startsWith("session="));
    if (!cookie) throw new Error(`login ${nickname}: no session cookie`);
    return cookie;
  }

  /** Logs in `count` users, `concurrency` at a time. */
  async loginMany(
    count: number,
    prefix: string,
    concurrency = 16,
  ): Promise<string[]> {
    const cookies = new Array<string>(count);
    await pool(count, concurrency, async (i) => {
      cookies[i] = await this.login(`${prefix}${i}`);
    });
    return cookies;
  }

  /** Opens one socket to a room; `pace` spaces out its reads. */
  connect(
    room: string,
    cookie: string,
    onText: (data: Uint8Array, start: number, end: number) => void,
    pace?: () => Promise<void>,
  ): Promise<BenchSocket> {
    return BenchSocket.connect({
      hostname: this.config.hostname,
      port: this.config.port,
      path: `/ws/${room}`,
      cookie,
      onText: (data, start, end) => {
        this.frames++;
        onText(data, start, end);
      },
      pace,
    });
  }

  /** Waits until no frame has arrived for `quietMs`, or `maxMs` passed. */
  async quiet(quietMs = 300, maxMs = 20_000) {
    const deadline = performance.now() + maxMs;
    let last = -1;
    while (performance.now() < deadline) {
      if (this.frames === last) return;
      last = this.frames;
      await sleep(quietMs);
    }
  }

  /** The server's /healthz body, or null. */
  async health(): Promise<{ connections?: number } | null> {
    try {
      const res = await fetch(`${this.base}/healthz`);
      return await res.json();
    } catch {
      return null;
    }
  }

  /** Starts CPU meters for the load and the server. */
  async meters(): Promise<{ load: CpuMeter; server: CpuMeter }> {
    const [load, server] = await Promise.all([
      CpuMeter.start(Deno.pid),
      CpuMeter.start(this.config.serverPid, { children: true }),
    ]);
    return { load, server };
  }
}

function indexOfBytes(
  data: Uint8Array,
  start: number,
  end: number,
  needle: Uint8Array,
): number {
  const first = needle[0];
  for (
    let i = data.indexOf(first, start);
    i >= 0 && i + needle.length <= end;
    i = data.indexOf(first, i + 1)
  ) {
    let j = 1;
    while (j < needle.length && data[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}

/** Runs `task(i)` for i in [0, count), at most `concurrency` at once. */
async function pool(
  count: number,
  concurrency: number,
  task: (i: number) => Promise<void>,
) {
  let next = 0;
  const workers = Array.from(
    { length: Math.min(concurrency, count) },
    async () => {
      while (next < count) await task(next++);
    },
  );
  await Promise.all(workers);
}

/** One timer shared by all paced sockets: each waits for the next tick before reading again. */
class Ticker {
  #promise!: Promise<void>;
  #resolve!: () => void;
  #timer: ReturnType<typeof setInterval>;

  constructor(ms: number) {
    this.#arm();
    this.#timer = setInterval(() => {
      const resolve = this.#resolve;
      this.#arm();
      resolve();
    }, ms);
  }

  #arm() {
    this.#promise = new Promise((resolve) => this.#resolve = resolve);
  }

  /** Resolves at the next tick. */
  next = (): Promise<void> => this.#promise;

  /** Stops ticking. */
  stop() {
    clearInterval(this.#timer);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function messageFrame(tag: string): Uint8Array {
  return encodeTextFrame(`{"type":"message","text":"${tag}"}`);
}

async function runBurst(load: Load, cfg: BurstConfig): Promise<BurstResult> {
  const n = cfg.clients;
  const per = cfg.perRound;
  const expectedEach = n * per;
  const cookies = await load.loginMany(n, "a");
  // One flag per (recipient, sender, seq) of the current round; reset per round.
  const seen = new Uint8Array(n * expectedEach);
  const got = new Uint32Array(n);
  let round = -1;
  let complete = 0;
  let duplicated = 0;
  let stray = 0;
  let frames = 0; // frames that carried messages, to see how the server batches
  let roundDone = () => {};
  const sockets = new Array<BenchSocket>(n);
  await pool(n, 64, async (i) => {
    const base = i * expectedEach;
    sockets[i] = await load.connect("burst", cookies[i], (data, start, end) => {
      const found = scanTags(data, start, end, (sender, r, seq) => {
        if (r !== round || sender >= n || seq >= per) {
          stray++;
          return;
        }
        const at = base + sender * per + seq;
        if (seen[at]) {
          duplicated++;
          return;
        }
        seen[at] = 1;
        if (++got[i] === expectedEach && ++complete === n) roundDone();
      }, false);
      if (found === 0) load.untagged(data, start, end);
      else frames++;
    });
  });
  await load.quiet();

  let lost = 0;
  /** Runs one round; resolves with its duration, or null after a timeout. */
  async function oneRound(): Promise<number | null> {
    round++;
    seen.fill(0);
    got.fill(0);
    complete = 0;
    const done = new Promise<void>((resolve) => roundDone = resolve);
    const t0 = performance.now();
    for (let c = 0; c < n; c++) {
      const frames: Uint8Array[] = [];
      for (let k = 0; k < per; k++) {
        frames.push(messageFrame(formatTag(c, round, k, nowUs())));
      }
      // One write per client per round, as a burst from a browser would coalesce.
      sockets[c].send(frames.length === 1 ? frames[0] : concat(frames));
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), cfg.roundTimeoutMs);
    });
    const outcome = await Promise.race([done, timeout]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      let received = 0;
      for (let i = 0; i < n; i++) received += got[i];
      lost += n * expectedEach - received;
      load.error(
        `round ${round} timed out: ${received} of ${
          n * expectedEach
        } delivered`,
      );
      return null;
    }
    return performance.now() - t0;
  }

  const warmEnd = performance.now() + cfg.warmupMs;
  while (performance.now() < warmEnd) {
    if (await oneRound() === null) break;
  }
  const meters = await load.meters();
  frames = 0;
  let rounds = 0;
  let measuredMs = 0;
  while (lost === 0 && (rounds === 0 || measuredMs < cfg.measureMs)) {
    const ms = await oneRound();
    if (ms === null) break;
    rounds++;
    measuredMs += ms;
  }
  const [loadCpu, serverCpu] = await Promise.all([
    meters.load.share(),
    meters.server.share(),
  ]);
  // Late duplicates of the last round would arrive now.
  await sleep(200);
  if (stray > 0) {
    load.error(`${stray} deliveries from a finished round (duplicates)`);
  }
  const deliveries = rounds * n * expectedEach;
  const measuredFrames = frames;
  return {
    kind: "burst",
    clients: n,
    perRound: per,
    rounds,
    deliveries,
    seconds: measuredMs / 1000,
    deliveriesPerSecond: measuredMs > 0 ? deliveries / (measuredMs / 1000) : 0,
    lost,
    duplicated: duplicated + stray,
    loadCpu,
    serverCpu,
    serverProcesses: meters.server.pids.length,
    eventsPerFrame: measuredFrames > 0 ? deliveries / measuredFrames : 0,
    errors: load.errors,
  };
}

async function runCapacity(
  load: Load,
  cfg: CapacityConfig,
): Promise<CapacityResult> {
  const n = cfg.members;
  const cookies = await load.loginMany(n, "b");
  let step = -1;
  let capacityOf = 0; // messages the current step may send; sizes `seen`
  let seen = new Uint32Array(0); // one bit per (recipient, message) of the step
  let sent = 0;
  let delivered = 0;
  let duplicated = 0;
  let stray = 0;
  let frames = 0; // frames that carried messages, to see how the server batches
  let hist = new Histogram();
  let allHist = new Histogram();
  const ticker = cfg.paceMs > 0 ? new Ticker(cfg.paceMs) : null;
  const sockets = new Array<BenchSocket>(n);
  await pool(n, 64, async (i) => {
    // Probes are spread evenly over the join order, which is the order the
    // servers send in, so the late end of a fan-out is sampled as well.
    const probe = i % cfg.probeEvery === 0;
    const pace = probe || !ticker ? undefined : ticker.next;
    sockets[i] = await load.connect(
      "capacity",
      cookies[i],
      (data, start, end) => {
        // One clock read per frame: a batch's events arrived together anyway.
        const now = nowUs();
        const base = i * capacityOf;
        const found = scanTags(data, start, end, (_sender, s, seq, sentUs) => {
          if (s !== step || seq >= sent) {
            stray++;
            return;
          }
          const bit = base + seq;
          const word = bit >>> 5;
          const mask = 1 << (bit & 31);
          if (seen[word] & mask) {
            duplicated++;
            return;
          }
          seen[word] |= mask;
          delivered++;
          if (probe) hist.record(now - sentUs);
          allHist.record(now - sentUs);
        });
        if (found === 0) load.untagged(data, start, end);
        else frames++;
      },
      pace,
    );
  });
  await load.quiet();

  async function runStep(rate: number, ms: number): Promise<CapacityStep> {
    const total = Math.max(1, Math.round((rate * ms) / 1000));
    step++;
    capacityOf = total;
    seen = new Uint32Array(Math.ceil((n * total) / 32));
    sent = 0;
    delivered = 0;
    duplicated = 0;
    hist = new Histogram();
    allHist = new Histogram();
    frames = 0;
    const meters = await load.meters();
    const t0 = performance.now();
    while (sent < total) {
      // Open loop: send what the schedule says is due, whatever came back.
      const due = Math.min(
        total,
        Math.floor(((performance.now() - t0) * rate) / 1000) + 1,
      );
      while (sent < due) {
        sockets[sent % n].send(
          messageFrame(formatTag(sent % n, step, sent, nowUs())),
        );
        sent++;
      }
      await sleep(1);
    }
    const publishMs = performance.now() - t0;
    const [loadCpu, serverCpu] = await Promise.all([
      meters.load.share(),
      meters.server.share(),
    ]);
    const expected = sent * n;
    // Loss is what never comes while the server still makes progress; a
    // backlog that is draining is latency, already in the figures.
    const drainCap = performance.now() + cfg.maxDrainMs;
    let lastCount = delivered;
    let lastAt = performance.now();
    while (delivered < expected) {
      await sleep(10);
      const now = performance.now();
      if (delivered !== lastCount) {
        lastCount = delivered;
        lastAt = now;
      } else if (now - lastAt > cfg.drainMs) break;
      if (now > drainCap) break;
    }
    const p99Ms = hist.quantileUs(0.99) / 1000;
    const lost = expected - delivered;
    return {
      rate,
      sent,
      sentRate: sent / (publishMs / 1000),
      expected,
      delivered,
      lost,
      duplicated,
      p50Ms: hist.quantileUs(0.5) / 1000,
      p99Ms,
      maxMs: hist.maxUs / 1000,
      allP99Ms: allHist.quantileUs(0.99) / 1000,
      eventsPerFrame: frames > 0 ? delivered / frames : 0,
      loadCpu,
      serverCpu,
      pass: p99Ms < cfg.p99LimitMs && lost === 0 && duplicated === 0,
    };
  }

  if (cfg.warmupMs > 0) {
    await runStep(cfg.startRate, cfg.warmupMs);
    await load.quiet(100, 2000);
  }
  const steps: CapacityStep[] = [];
  for (let rate = cfg.startRate; rate <= cfg.maxRate; rate *= 2) {
    const result = await runStep(rate, cfg.stepMs);
    steps.push(result);
    console.error(
      `  ${load.config.target} ${rate}/s: p50 ${result.p50Ms.toFixed(2)} p99 ${
        result.p99Ms.toFixed(2)
      } ms, ` +
        `${result.delivered}/${result.expected}, load ${
          pct(result.loadCpu)
        } server ${pct(result.serverCpu)}`,
    );
    if (!result.pass) break;
    // Let the previous step's tail clear so it doesn't count against the next.
    await load.quiet(100, 2000);
  }
  ticker?.stop();
  let capacity = 0;
  let loadLimited = false;
  for (const s of steps) {
    if (s.loadCpu > 0.9) loadLimited = true;
    if (!s.pass) break;
    capacity = s.rate;
  }
  if (stray > 0) {
    load.error(
      `${stray} deliveries after their step ended (late or duplicate)`,
    );
  }
  return {
    kind: "capacity",
    members: n,
    steps,
    capacity,
    loadLimited,
    lost: steps.reduce((sum, s) => sum + s.lost, 0),
    duplicated: steps.reduce((sum, s) => sum + s.duplicated, 0),
    loadCpu: Math.max(0, ...steps.map((s) => s.loadCpu)),
    serverCpu: Math.max(0, ...steps.map((s) => s.serverCpu)),
    errors: load.errors,
  };
}

async function runIdle(load: Load, cfg: IdleConfig): Promise<IdleResult> {
  const n = cfg.connections;
  const sessions = Math.max(1, Math.min(n, cfg.sessions));
  const cookies = await load.loginMany(sessions, "c");
  const pid = load.config.serverPid;
  const inspector = load.config.inspectPort
    ? await Inspector.open(load.config.hostname, load.config.inspectPort)
    : null;
  await load.quiet(500, 5000);
  const rawBefore = median(await rssSamples(pid));
  // A full GC first, when possible, so login garbage is not counted.
  const heapBefore = inspector ? await inspector.liveHeap() : null;
  const rssBefore = inspector ? median(await rssSamples(pid)) : rawBefore;
  const sockets: BenchSocket[] = [];
  const gotFrame = new Uint8Array(n);
  let firstFrames = 0;
  let allFramesAt = 0;
  let failed = 0;
  const meters = await load.meters();
  const t0 = performance.now();
  await pool(n, cfg.concurrency, async (i) => {
    try {
      const socket = await load.connect(
        `idle-${i % cfg.rooms}`,
        cookies[i % sessions],
        (data, start, end) => {
          if (!gotFrame[i]) {
            gotFrame[i] = 1;
            if (++firstFrames === n) allFramesAt = performance.now();
          }
          load.untagged(data, start, end);
        },
      );
      sockets.push(socket);
    } catch (err) {
      failed++;
      load.error(`connect ${i}: ${err instanceof Error ? err.message : err}`);
    }
  });
  const connectMs = performance.now() - t0;
  const [loadCpu, serverCpu] = await Promise.all([
    meters.load.share(),
    meters.server.share(),
  ]);
  // The baseline sends nothing on connect; the chat server sends a welcome.
  const firstDeadline = performance.now() + 60_000;
  while (
    load.config.target === "server" && firstFrames < n - failed &&
    performance.now() < firstDeadline
  ) {
    await sleep(20);
  }
  await load.quiet(500, 20_000);
  await sleep(cfg.settleMs);
  const rawAfter = median(await rssSamples(pid));
  const heapAfter = inspector ? await inspector.liveHeap() : null;
  const rssAfter = inspector ? median(await rssSamples(pid)) : rawAfter;
  inspector?.close();
  const health = await load.health();
  const open = sockets.filter((s) => !s.closed).length;
  return {
    kind: "idle",
    connections: n,
    open,
    serverConnections: typeof health?.connections === "number"
      ? health.connections
      : null,
    rssBefore,
    rssAfter,
    rssPerConnection: open > 0 ? (rssAfter - rssBefore) / open : 0,
    rssPerConnectionNoGc: open > 0 ? (rawAfter - rawBefore) / open : 0,
    heapBefore,
    heapAfter,
    heapPerConnection: heapBefore !== null && heapAfter !== null && open > 0
      ? (heapAfter - heapBefore) / open
      : null,
    connectMs,
    firstFrameMs: firstFrames === n ? allFramesAt - t0 : null,
    loadCpu,
    serverCpu,
    lost: n - open,
    duplicated: 0,
    errors: load.errors,
  };
}

/**
 * A client of the server's V8 inspector (Chrome DevTools Protocol), used only
 * to force a full GC and read the live heap: RSS alone mixes live memory with
 * garbage and pages the allocator keeps.
 */
class Inspector {
  #ws: WebSocket;
  #next = 0;
  #pending = new Map<number, (result: Record<string, unknown>) => void>();

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.onmessage = (event) => {
      const message = JSON.parse(event.data);
      this.#pending.get(message.id)?.(message.result ?? {});
      this.#pending.delete(message.id);
    };
  }

  /** Connects to the first target the inspector lists. */
  static async open(hostname: string, port: number): Promise<Inspector> {
    const list = await (await fetch(`http://${hostname}:${port}/json/list`))
      .json();
    const ws = new WebSocket(list[0].webSocketDebuggerUrl);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error("inspector connection failed"));
    });
    return new Inspector(ws);
  }

  #call(method: string): Promise<Record<string, unknown>> {
    const id = ++this.#next;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.#ws.send(JSON.stringify({ id, method }));
    });
  }

  /** Runs a full GC and returns the V8 heap bytes still in use. */
  async liveHeap(): Promise<number> {
    await this.#call("HeapProfiler.collectGarbage");
    const usage = await this.#call("Runtime.getHeapUsage");
    return Number(usage.usedSize);
  }

  /** Disconnects. */
  close() {
    this.#ws.close();
  }
}

/** Three RSS readings 200 ms apart, so one GC moment doesn't decide the figure. */
async function rssSamples(pid: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < 3; i++) {
    if (i > 0) await sleep(200);
    out.push(pid > 0 ? await rssBytes(pid) : 0);
  }
  return out;
}

function pct(share: number): string {
  return `${Math.round(share * 100)}%`;
}

/** Runs the configured workload and returns its result. */
export async function runLoad(config: LoadConfig): Promise<LoadResult> {
  const load = new Load(config);
  const w = config.workload;
  const result = w.kind === "burst"
    ? await runBurst(load, w)
    : w.kind === "capacity"
    ? await runCapacity(load, w)
    : await runIdle(load, w);
  return { ...result, target: config.target };
}

if (import.meta.main) {
  const config = JSON.parse(Deno.args[0]) as LoadConfig;
  const result = await runLoad(config);
  console.log(JSON.stringify(result));
  // Open sockets would keep the process alive; the runner stops the server next.
  Deno.exit(0);
}
