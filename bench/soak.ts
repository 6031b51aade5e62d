/**
 * `deno task soak` (issue 11): SOAK_SECONDS (60) of every attack of
 * bench/soak_attacks.ts at once against one server, started as `deno task
 * start` starts it over a fresh KV file under ./data, under a descriptor
 * limit of 1024, while SOAK_HONEST (50) honest clients chat within the
 * default per-user limits. Prints what got through and exits 1 unless every
 * honest message reached every honest client once, in order, and the server
 * stayed up with every honest socket.
 *
 * The server trusts X-Forwarded-For from loopback, and every client sends
 * an address of its own, as a proxy would: otherwise every client here
 * would be one person to the per-address limits.
 *
 * @module
 */
import { startCommand } from "./run.ts";
import { rssBytes } from "./metrics.ts";
import { freePort } from "./ports.ts";
import { BenchSocket, encodeTextFrame } from "./ws_client.ts";
import { allAttacks, type Attack } from "./soak_attacks.ts";
import { bump, login, type Peer, sleep, type Tally } from "./soak_net.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const HOST = "127.0.0.1";
const decoder = new TextDecoder();

/** What a soak is parameterised by. */
export interface SoakSettings {
  /** Seconds of attacks. */
  seconds: number;
  /** Honest clients. */
  honest: number;
  /** Size of the fragmented message, MiB. */
  fragmentMiB: number;
  /** Idle TCP connections per wave. */
  idle: number;
  /** Seconds between one honest client's messages. */
  everySeconds: number;
}

/** Reads SOAK_SECONDS, SOAK_HONEST, SOAK_FRAGMENT_MIB and SOAK_IDLE. */
export function readSoakSettings(
  env: Record<string, string | undefined> = Object.fromEntries(
    ["SOAK_SECONDS", "SOAK_HONEST", "SOAK_FRAGMENT_MIB", "SOAK_IDLE"].map((
      name,
    ) => [name, Deno.env.get(name)]),
  ),
): SoakSettings {
  const num = (name: string, fallback: number) => {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    const value = Number(raw);
    if (!(value > 0)) {
      throw new Error(`Invalid ${name} "${raw}": expected a positive number`);
    }
    return value;
  };
  return {
    seconds: num("SOAK_SECONDS", 60),
    honest: Math.round(num("SOAK_HONEST", 50)),
    fragmentMiB: Math.round(num("SOAK_FRAGMENT_MIB", 600)),
    idle: Math.round(num("SOAK_IDLE", 1100)),
    everySeconds: 1.5,
  };
}

/** What a soak found. */
export interface SoakResult {
  /** Honest messages sent. */
  sent: number;
  /** Deliveries expected: sent × honest clients. */
  expected: number;
  /** Deliveries received once, in order per sender. */
  delivered: number;
  /** Honest outcomes that must stay zero (duplicates, out of order, errors). */
  honest: Tally;
  /** Honest sockets the server dropped. */
  dropped: number;
  /** Peak VmRSS of the server, bytes. */
  peakRss: number;
  /** VmRSS once the attacks were over, bytes: whether memory came back. */
  endRss: number;
  /** Whether the process was alive at the end and /healthz answered 200. */
  stayedUp: boolean;
  /** /healthz's connection count once the attackers were gone. */
  connectionsAtEnd: number | null;
  /** KV file bytes (with -wal and -shm) before and after. */
  kv: { before: number; after: number };
  /** "Out of file descriptors" lines the server logged. */
  exhaustionLogs: number;
  /** Every attack with its counts. */
  attacks: Attack[];
  /** Where the server's log is. */
  log: string;
}

/** One honest client: who it is and what it saw. */
interface Honest {
  name: string;
  peer: Peer;
  socket?: BenchSocket;
  sent: number;
  /** The last seq seen from each sender, by index. */
  last: number[];
}

async function kvBytes(file: string): Promise<number> {
  let total = 0;
  for (const suffix of ["", "-wal", "-shm"]) {
    total += await Deno.stat(`${file}${suffix}`).then((s) => s.size, () => 0);
  }
  return total;
}

async function healthz(
  origin: string,
): Promise<Record<string, unknown> | null> {
  try {
    const res = await fetch(`${origin}/healthz`, {
      signal: AbortSignal.timeout(1000),
    });
    return res.ok ? await res.json() : (await res.body?.cancel(), null);
  } catch {
    return null;
  }
}

/** Polls `check` every 200 ms for up to `ms`; its last answer. */
async function within<T>(
  ms: number,
  check: () => Promise<T>,
  ok: (v: T) => boolean,
) {
  const deadline = Date.now() + ms;
  let value = await check();
  while (!ok(value) && Date.now() < deadline) {
    await sleep(200);
    value = await check();
  }
  return value;
}

/** Starts the server under `prlimit --nofile=1024:1024`, as `deno task start` would run it. */
async function startServer(kvFile: string, log: string) {
  const port = freePort(HOST);
  const secret = Array.from(
    crypto.getRandomValues(new Uint8Array(32)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  const command = await startCommand();
  const child = new Deno.Command("prlimit", {
    args: ["--nofile=1024:1024", "--", ...command],
    cwd: ROOT,
    env: {
      PORT: String(port),
      HOST,
      COOKIE_SECRET: secret,
      KV_PATH: kvFile,
      TRUSTED_PROXIES: "loopback",
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const file = await Deno.open(log, { write: true, create: true });
  const writer = file.writable.getWriter();
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) await writer.write(chunk);
  };
  const copied = Promise.all([drain(child.stdout), drain(child.stderr)])
    .finally(() => writer.close().catch(() => {}));
  let exited = false;
  child.status.then(() => exited = true);
  const origin = `http://${HOST}:${port}`;
  const up = await within(30_000, () => healthz(origin), (h) => !!h || exited);
  if (!up) {
    child.kill("SIGKILL");
    await copied.catch(() => {});
    throw new Error(`The server did not start: see "${log}"`);
  }
  return { child, port, origin, exited: () => exited, copied };
}

/** Logs the honest clients in and opens their sockets, each from 10.0.x.y. */
async function joinHonest(
  origin: string,
  port: number,
  settings: SoakSettings,
  honest: Tally,
  onDrop: () => void,
): Promise<Honest[]> {
  const clients: Honest[] = Array.from({ length: settings.honest }, (_, i) => ({
    name: i === 0 ? "admin" : `honest${i}`,
    peer: { origin, port, address: `10.0.${i >> 8}.${(i & 255) + 1}` },
    sent: 0,
    last: new Array(settings.honest).fill(0),
  }));
  const index = new Map(clients.map((c, i) => [c.name, i]));
  for (const client of clients) {
    const { status, cookie } = await login(client.peer, client.name);
    if (!cookie) {
      throw new Error(`Honest login of "${client.name}" got ${status}`);
    }
    client.socket = await BenchSocket.connect({
      hostname: HOST,
      port,
      path: "/ws",
      cookie,
      headers: { "X-Forwarded-For": client.peer.address },
      onText: (data, start, end) => {
        const frame = JSON.parse(decoder.decode(data.subarray(start, end)));
        for (const e of frame.type === "batch" ? frame.events : [frame]) {
          receive(client, e, index, honest);
        }
      },
      onClose: onDrop,
    });
  }
  return clients;
}

/** Checks one event an honest client got: once, in order, per sender. */
function receive(
  client: Honest,
  e: Record<string, unknown>,
  index: Map<string, number>,
  honest: Tally,
): void {
  if (e.type === "error") return bump(honest, `error ${e.code} (must be 0)`);
  if (e.type !== "message") return;
  const text = String(e.text);
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u0008\u000b-\u001f]|\p{Cs}/u.test(text)) {
    bump(honest, "bad text delivered (must be 0)");
  }
  const from = index.get(String(e.nickname));
  const match = /^soak (\d+) #(\d+)$/.exec(text);
  if (from === undefined || !match || Number(match[1]) !== from) return;
  const seq = Number(match[2]);
  const last = client.last[from];
  if (seq === last + 1) client.last[from] = seq;
  else if (seq <= last) bump(honest, "duplicate (must be 0)");
  else {
    bump(honest, "out of order or missing (must be 0)");
    client.last[from] = seq;
  }
}

/** Runs one soak and returns what it found; the server is stopped and its KV removed. */
export async function runSoak(settings: SoakSettings): Promise<SoakResult> {
  const id = crypto.randomUUID().slice(0, 8);
  // The log stays for reading afterwards; the KV file goes.
  const log = `./data/soak-${id}.log`;
  const kvFile = `./data/soak-${id}.db`;
  const kvPath = `${ROOT}${kvFile.slice(2)}`;
  await Deno.mkdir(`${ROOT}data`, { recursive: true });
  const server = await startServer(kvFile, `${ROOT}${log.slice(2)}`);
  const honest: Tally = {};
  let dropped = 0;
  let peakRss = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling && !server.exited()) {
      peakRss = Math.max(
        peakRss,
        await rssBytes(server.child.pid).catch(() => 0),
      );
      await sleep(250);
    }
  })();
  try {
    const clients = await joinHonest(
      server.origin,
      server.port,
      settings,
      honest,
      () => dropped++,
    );
    const kvBefore = await kvBytes(kvPath);
    const until = Date.now() + settings.seconds * 1000;
    const attacks = allAttacks();
    const attacking = attacks.map((a) =>
      a.run({
        origin: server.origin,
        port: server.port,
        until,
        fragmentMiB: settings.fragmentMiB,
        idle: settings.idle,
        victim: clients[0].name,
      }).catch((err) => bump(a.tally, `attack failed: ${err}`))
    );
    const chatting = clients.map(async (client, i) => {
      await sleep(Math.random() * settings.everySeconds * 1000);
      while (Date.now() < until && !client.socket!.closed) {
        client.sent++;
        client.socket!.send(encodeTextFrame(JSON.stringify({
          type: "message",
          text: `soak ${i} #${client.sent}`,
          cid: `h${i}-${client.sent}`,
        })));
        await sleep(settings.everySeconds * 1000);
      }
    });
    await Promise.all(chatting);
    const sent = clients.reduce((n, c) => n + c.sent, 0);
    const delivered = () =>
      clients.reduce(
        (n, c) =>
          n + c.last.reduce((m, seq, from) =>
            m + Math.min(seq, clients[from].sent), 0),
        0,
      );
    await within(
      15_000,
      () => Promise.resolve(delivered()),
      (d) => d >= sent * clients.length,
    );
    await Promise.all(attacking);
    const health = await within(
      10_000,
      () => healthz(server.origin),
      (h) => h !== null && h.connections === clients.length,
    );
    const result: SoakResult = {
      sent,
      expected: sent * clients.length,
      delivered: delivered(),
      honest,
      dropped,
      peakRss,
      endRss: await rssBytes(server.child.pid).catch(() => 0),
      stayedUp: !server.exited() && health !== null,
      connectionsAtEnd: health ? Number(health.connections) : null,
      kv: { before: kvBefore, after: await kvBytes(kvPath) },
      exhaustionLogs: 0,
      attacks,
      log,
    };
    for (const client of clients) client.socket!.close();
    return result;
  } finally {
    sampling = false;
    await sampler;
    if (!server.exited()) server.child.kill("SIGTERM");
    const timer = setTimeout(() => server.child.kill("SIGKILL"), 10_000);
    await server.child.status;
    clearTimeout(timer);
    await server.copied.catch(() => {});
    for (const suffix of ["", "-wal", "-shm"]) {
      await Deno.remove(`${kvPath}${suffix}`).catch(() => {});
    }
  }
}

/** Counts the server's "Out of file descriptors" log lines. */
export async function exhaustionLogs(log: string): Promise<number> {
  const text = await Deno.readTextFile(`${ROOT}${log.slice(2)}`).catch(() =>
    ""
  );
  return text.split("Out of file descriptors").length - 1;
}

/** Whether the soak passed: every honest delivery made, nothing dropped, server up. */
export function passed(r: SoakResult): boolean {
  return r.sent > 0 && r.delivered === r.expected &&
    Object.keys(r.honest).length === 0 && r.dropped === 0 && r.stayedUp;
}

/** The printout. */
export function report(s: SoakSettings, r: SoakResult): string {
  const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;
  const lines = [
    `Soak: ${s.seconds} s, ${s.honest} honest clients (one message each every ${s.everySeconds} s), fragment ${s.fragmentMiB} MiB, ${s.idle} idle connections a wave, server under nofile 1024`,
    `Honest messages sent: ${r.sent}; deliveries expected ${r.expected} (sent x ${s.honest}), delivered once and in order ${r.delivered}`,
    `Honest problems: ${
      Object.keys(r.honest).length ? JSON.stringify(r.honest) : "none"
    }; honest sockets dropped: ${r.dropped}`,
    `Server peak RSS: ${mib(r.peakRss)}; at the end: ${mib(r.endRss)}`,
    `Stayed up: ${r.stayedUp ? "yes" : "NO"} (process alive, /healthz ${
      r.connectionsAtEnd === null
        ? "did not answer"
        : `answered, ${r.connectionsAtEnd} connections open at the end`
    }); "Out of file descriptors" logged ${r.exhaustionLogs} times`,
    `KV file: ${r.kv.before} B -> ${r.kv.after} B (+${
      r.kv.after - r.kv.before
    } B, with -wal and -shm)`,
    "Attacks:",
    ...r.attacks.map((a) =>
      `  ${a.label}: ${
        Object.entries(a.tally).map(([k, v]) => `${k} ${v}`).join(", ")
      }`
    ),
    `Server log: ${r.log}`,
    passed(r) ? "PASS" : "FAIL",
  ];
  return lines.join("\n");
}

if (import.meta.main) {
  const settings = readSoakSettings();
  const result = await runSoak(settings);
  result.exhaustionLogs = await exhaustionLogs(result.log);
  console.log(report(settings, result));
  if (!passed(result)) Deno.exit(1);
}
