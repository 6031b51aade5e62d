/**
 * The page workload of `deno task bench`: one sender bursts messages into
 * the lobby while the chat page in headless Chromium reads them, and the
 * figures are how fast the page renders them (messages/s, from the first
 * delivery to a plain socket until the page shows the last message), how
 * long after the last delivery the page shows it, and the longest task the
 * page ran meanwhile ('longtask' entries, which start at 50 ms).
 *
 * bench/run.ts starts the server like its other runs; this module runs the
 * measurement (bench/page_browser.ts) as a child process under
 * tests/deno.lock, which holds playwright-core: the bench itself runs under
 * deno.lock, which must not.
 *
 * @module
 */

/** The id that selects this workload in BENCH_WORKLOADS. */
export const PAGE_WORKLOAD = "page";

const BROWSER_SCRIPT = new URL("./page_browser.ts", import.meta.url).pathname;
const ROOT = new URL("..", import.meta.url).pathname;

/** What one measurement is told. */
export interface PageOptions {
  /** The chat server, e.g. http://127.0.0.1:8000. */
  origin: string;
  /** Messages in the burst. */
  messages: number;
  /** Gives up this long after the burst starts. */
  timeoutMs?: number;
}

/** What the page workload measured. */
export interface PageResult {
  kind: "page";
  /** Messages in the burst. */
  messages: number;
  /** First to last delivery to the sender's own plain socket. */
  deliveryMs: number;
  /** Last delivery to the page showing the last message. */
  lagMs: number;
  /** Messages over the time from the first delivery to the page showing the last. */
  messagesPerSecond: number;
  /** The longest 'longtask' entry, 0 when no task took 50 ms. */
  longestTaskMs: number;
  /** How many tasks took 50 ms or more. */
  longTasks: number;
  /** Burst messages the page put into its log, each counted once. */
  added: number;
  /** Burst messages the page put into its log more than once. */
  duplicated: number;
  /** Burst messages the page put in after a later one. */
  outOfOrder: number;
  /**
   * The burst messages' texts in the log at the end, top to bottom; the
   * last three only when it comes from the child process
   */
  texts: string[];
  /** Console and page errors. */
  errors: string[];
  /** Whether the log ends with the burst's last messages in order, and nothing went wrong. */
  ok: boolean;
}

/** A started chat server, as bench/run.ts starts them. */
export interface StartedServer {
  port: number;
  stop(): Promise<unknown>;
}

/**
 * Starts a server with `start`, measures the page against it in a child
 * process under tests/deno.lock, and stops the server.
 */
export async function runPageWorkload(
  start: () => Promise<StartedServer>,
  options: { host: string; messages: number },
): Promise<PageResult> {
  const server = await start();
  const out = await Deno.makeTempFile({
    prefix: "page-bench-",
    suffix: ".json",
  });
  try {
    const config = {
      origin: `http://${options.host}:${server.port}`,
      messages: options.messages,
    };
    const allow = ["net", "env", "read", "write", "run", "sys"];
    const status = await new Deno.Command("deno", {
      args: [
        "run",
        "--lock=tests/deno.lock",
        ...allow.map((what) => `--allow-${what}`),
        BROWSER_SCRIPT,
        JSON.stringify(config),
        out,
      ],
      cwd: ROOT,
      stdin: "null",
    }).spawn().status;
    if (!status.success) {
      throw new Error(`Page workload failed: exit code "${status.code}"`);
    }
    return JSON.parse(await Deno.readTextFile(out)) as PageResult;
  } finally {
    await server.stop();
    await Deno.remove(out).catch(() => {});
  }
}

/**
 * How many messages the page workload sends: BENCH_PAGE_MESSAGES, else
 * 20,000 (500 in a quick run).
 */
export function pageMessages(
  env: Record<string, string | undefined>,
  quick: boolean,
): number {
  const raw = env.BENCH_PAGE_MESSAGES ?? "";
  const value = raw === "" ? (quick ? 500 : 20_000) : Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(
      `Invalid BENCH_PAGE_MESSAGES "${raw}": expected a whole number above 0`,
    );
  }
  return value;
}

/** The page workload's figures as a Markdown table. */
export function pageTable(r: PageResult): string {
  const fixed = (n: number) => Math.round(n).toLocaleString("en-US");
  return [
    "| Messages | Delivery ms | Page lag after last delivery ms | Page messages/s | Longest task ms | Long tasks | Duplicated / out of order | OK |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    `| ${fixed(r.messages)} | ${fixed(r.deliveryMs)} | ${fixed(r.lagMs)} | ${
      fixed(r.messagesPerSecond)
    } | ${
      fixed(r.longestTaskMs)
    } | ${r.longTasks} | ${r.duplicated} / ${r.outOfOrder} | ${
      r.ok ? "yes" : "no"
    } |`,
  ].join("\n");
}
