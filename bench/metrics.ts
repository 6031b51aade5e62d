/**
 * Measuring helpers shared by the load process and the runner: message tags,
 * a latency histogram and readings of /proc.
 */

const TILDE = 0x7e;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

/**
 * The text the load process puts in every message: sender index, round (or
 * step), sequence number within it, and send time in whole microseconds of
 * `performance.now()`. Plain ASCII that JSON never escapes, so it can be found
 * in the raw bytes of any frame, batched or not.
 */
export function formatTag(
  sender: number,
  round: number,
  seq: number,
  sentUs: number,
): string {
  return `~${sender}.${round}.${seq}.${sentUs}~`;
}

/** Receives one tag found by `scanTags`. */
export type TagHandler = (
  sender: number,
  round: number,
  seq: number,
  sentUs: number,
) => void;

/**
 * Finds every tag in the bytes [start, end) and returns how many it found.
 * Works on bytes so a batch frame costs one pass, with no JSON parsing; this
 * is the load process's hottest loop, so it allocates nothing. With
 * `withTime` false the send time is not parsed and reads as 0.
 */
export function scanTags(
  data: Uint8Array,
  start: number,
  end: number,
  onTag: TagHandler,
  withTime = true,
): number {
  // A view bounds indexOf to this message, whatever follows it in the buffer.
  const view = data.subarray(start, end);
  let found = 0;
  let i = view.indexOf(TILDE);
  while (i >= 0) {
    const close = readTag(view, i, withTime, onTag);
    if (close < 0) {
      i = view.indexOf(TILDE, i + 1);
    } else {
      found++;
      i = view.indexOf(TILDE, close + 1);
    }
  }
  return found;
}

// Where the last readDigits stopped: the first byte after the digits.
let stop = 0;

/** The decimal number at view[p], or -1 if no digit is there; sets `stop`. */
function readDigits(view: Uint8Array, p: number): number {
  const first = p;
  let value = 0;
  let c = view[p];
  while (c >= ZERO && c <= NINE) {
    value = value * 10 + c - ZERO;
    c = view[++p];
  }
  stop = p;
  return p === first ? -1 : value;
}

/**
 * Reads the tag whose opening `~` is at view[i] and hands it to `onTag`;
 * returns the index of its closing `~`, or -1 if no tag starts there.
 */
function readTag(
  view: Uint8Array,
  i: number,
  withTime: boolean,
  onTag: TagHandler,
): number {
  const sender = readDigits(view, i + 1);
  if (sender < 0 || view[stop] !== DOT) return -1;
  const round = readDigits(view, stop + 1);
  if (round < 0 || view[stop] !== DOT) return -1;
  const seq = readDigits(view, stop + 1);
  if (seq < 0 || view[stop] !== DOT) return -1;
  const from = stop + 1;
  let sentUs = 0;
  let close: number;
  if (withTime) {
    sentUs = readDigits(view, from);
    if (sentUs < 0) return -1;
    close = stop;
  } else {
    // Anything up to the next `~` is taken for the time, unread.
    close = view.indexOf(TILDE, from);
    if (close <= from) return -1;
  }
  if (view[close] !== TILDE) return -1;
  onTag(sender, round, seq, sentUs);
  return close;
}

/** Microseconds since the process started, as whole numbers. */
export function nowUs(): number {
  return Math.round(performance.now() * 1000);
}

// 10 µs buckets up to 100 ms, where the interesting latencies are, then 1 ms
// buckets up to 60 s so an overloaded step still has a readable tail.
const FINE_US = 10;
const FINE_BUCKETS = 10_000;
const COARSE_US = 1000;
const COARSE_BUCKETS = 60_000;

/** Latency histogram in microseconds with a fixed memory cost. */
export class Histogram {
  #counts = new Uint32Array(FINE_BUCKETS + COARSE_BUCKETS);
  /** Samples recorded. */
  count = 0;
  /** Largest sample, exact. */
  maxUs = 0;

  /** Records one latency. */
  record(us: number): void {
    if (us < 0) us = 0;
    const fine = Math.floor(us / FINE_US);
    const bucket = fine < FINE_BUCKETS ? fine : FINE_BUCKETS +
      Math.min(
        COARSE_BUCKETS - 1,
        Math.floor((us - FINE_BUCKETS * FINE_US) / COARSE_US),
      );
    this.#counts[bucket]++;
    this.count++;
    if (us > this.maxUs) this.maxUs = us;
  }

  /** The q-quantile (0..1) in microseconds, as its bucket's upper edge; 0 when empty. */
  quantileUs(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let b = 0; b < this.#counts.length; b++) {
      seen += this.#counts[b];
      if (seen >= rank) {
        const edge = b < FINE_BUCKETS
          ? (b + 1) * FINE_US
          : FINE_BUCKETS * FINE_US + (b - FINE_BUCKETS + 1) * COARSE_US;
        return Math.min(edge, this.maxUs);
      }
    }
    return this.maxUs;
  }
}

/**
 * Reads a /proc file. Deno asks for --allow-all to read /proc/<pid>/ even with
 * --allow-read, so without it the file is read through `cat` (--allow-run).
 */
export async function readProc(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    if (
      !(err instanceof Deno.errors.NotCapable ||
        err instanceof Deno.errors.PermissionDenied)
    ) throw err;
  }
  const out = await new Deno.Command("cat", { args: [path], stderr: "null" })
    .output();
  if (!out.success) throw new Error(`cannot read ${path}`);
  return new TextDecoder().decode(out.stdout);
}

/** User plus system CPU time of a process in seconds, from /proc/<pid>/stat. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readProc(`/proc/${pid}/stat`);
  // The command name may hold spaces; the fields after it are plain.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15, i.e. 11 and 12 after the name.
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

// sysconf(_SC_CLK_TCK) is 100 on every Linux that Deno ships for.
const CLOCK_TICKS = 100;

/** Resident set size of a process in bytes, from /proc/<pid>/status VmRSS. */
export async function rssBytes(pid: number): Promise<number> {
  const status = await readProc(`/proc/${pid}/status`);
  const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) * 1024;
}

/**
 * Every process `pid` started, children first then theirs, from
 * /proc/<pid>/task/<pid>/children. Only the main thread's list is read: Deno
 * spawns subprocesses from its main thread (with WORKERS>1 the chat server's
 * `deno serve` child is listed there), and listing /proc/<pid>/task needs
 * --allow-all.
 */
export async function descendants(pid: number): Promise<number[]> {
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    let text: string;
    try {
      text = await readProc(`/proc/${parent}/task/${parent}/children`);
    } catch {
      continue; // Gone, or a kernel without CONFIG_PROC_CHILDREN.
    }
    for (const word of text.split(/\s+/)) {
      const child = Number(word);
      if (word && child > 0 && !out.includes(child)) {
        out.push(child);
        queue.push(child);
      }
    }
  }
  return out;
}

/**
 * Measures the CPU share of a process over a window that `start` opens and
 * `share` closes; with `children`, of the process and everything it had
 * started when the window opened, summed.
 */
export class CpuMeter {
  #pids: number[];
  #cpu0: (number | null)[];
  #t0: number;

  private constructor(pids: number[], cpu0: (number | null)[]) {
    this.#pids = pids;
    this.#cpu0 = cpu0;
    this.#t0 = performance.now();
  }

  /**
   * Opens a window for process `pid` (0: unknown, always reads as idle).
   * `children` adds its descendants: with WORKERS>1 the chat server's work is
   * done by the `deno serve` process it spawns, not by itself. Not for the
   * load process, whose only children are the short-lived `cat`s that read
   * /proc.
   */
  static async start(
    pid: number,
    options: { children?: boolean } = {},
  ): Promise<CpuMeter> {
    const pids = pid <= 0
      ? []
      : options.children
      ? [pid, ...await descendants(pid)]
      : [pid];
    const cpu0 = await Promise.all(pids.map(safeCpu));
    return new CpuMeter(pids, cpu0);
  }

  /** The processes measured, the first one first. */
  get pids(): readonly number[] {
    return this.#pids;
  }

  /** CPU seconds per wall second since the window opened (1 = one core busy). */
  async share(): Promise<number> {
    const wall = (performance.now() - this.#t0) / 1000;
    const cpu1 = await Promise.all(this.#pids.map(safeCpu));
    let used = 0;
    for (let i = 0; i < cpu1.length; i++) {
      const before = this.#cpu0[i];
      const after = cpu1[i];
      // A process that left mid-window has no end reading: its share is
      // unknown rather than negative, so it adds nothing.
      if (before !== null && after !== null) used += after - before;
    }
    return wall > 0 ? used / wall : 0;
  }
}

async function safeCpu(pid: number): Promise<number | null> {
  try {
    return await cpuSeconds(pid);
  } catch {
    return null;
  }
}

/** Median of a list of numbers; NaN when empty. */
export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
