/**
 * The page workload's measurement (see bench/page_render.ts), run in a
 * process under tests/deno.lock since it drives Chromium with
 * playwright-core: `deno run --lock=tests/deno.lock -A bench/page_browser.ts
 * '{"origin":"http://127.0.0.1:8000","messages":500}' [out.json]` runs it
 * alone against a running server, printing the result or writing it to
 * out.json.
 *
 * @module
 */
import { launchChromium, login } from "../tests/helpers/browser.ts";
import type { PageOptions, PageResult } from "./page_render.ts";

/** playwright-core's Page; the bare name resolves only under tests/ */
type Page = Awaited<
  ReturnType<Awaited<ReturnType<typeof launchChromium>>["newPage"]>
>;

/** Each message is this and its number, so the page's log says which it is */
const PREFIX = "burst ";

/** What the page's observer collected, read back once the page is done. */
interface Observed {
  added: number;
  duplicated: number;
  outOfOrder: number;
  doneAt: number;
  longestTaskMs: number;
  longTasks: number;
  texts: string[];
}

/**
 * Runs in the page: watches the log for burst messages and the main thread
 * for long tasks; `__pageBench.done` settles a frame after the last one
 * is in the log, that is once it is painted.
 */
function watchLog({ prefix, count }: { prefix: string; count: number }) {
  const log = document.getElementById("messages")!;
  const seen = new Set<number>();
  let last = -1;
  let finish = () => {};
  const state = {
    added: 0,
    duplicated: 0,
    outOfOrder: 0,
    doneAt: 0,
    longestTaskMs: 0,
    longTasks: 0,
    done: new Promise<void>((resolve) => finish = resolve),
  };
  new MutationObserver((records) => {
    for (const record of records) {
      for (const node of record.addedNodes) {
        if (!(node instanceof HTMLElement) || !node.matches(".msg")) continue;
        const text = node.querySelector(".msg-text")?.textContent ?? "";
        if (!text.startsWith(prefix)) continue;
        const n = Number(text.slice(prefix.length));
        if (seen.has(n)) state.duplicated++;
        else {
          seen.add(n);
          state.added++;
        }
        if (n < last) state.outOfOrder++;
        last = Math.max(last, n);
        if (n === count - 1) {
          requestAnimationFrame(() => {
            state.doneAt = performance.timeOrigin + performance.now();
            finish();
          });
        }
      }
    }
  }).observe(log, { childList: true });
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      state.longTasks++;
      state.longestTaskMs = Math.max(state.longestTaskMs, entry.duration);
    }
  }).observe({ type: "longtask" });
  Object.assign(globalThis, { __pageBench: state });
}

/** Runs in the page: waits for the last message, then reports. */
async function readObserved(timeoutMs: number): Promise<Observed | null> {
  const state = (globalThis as unknown as {
    __pageBench: Observed & { done: Promise<void> };
  }).__pageBench;
  const timedOut = await Promise.race([
    state.done.then(() => false),
    new Promise<boolean>((resolve) =>
      setTimeout(() => resolve(true), timeoutMs)
    ),
  ]);
  if (timedOut) return null;
  const texts = [...document.querySelectorAll("#messages .msg .msg-text")]
    .map((el) => el.textContent ?? "");
  const { done: _, ...figures } = state;
  return { ...figures, texts };
}

/** Logs `nickname` in over HTTP and opens its socket to the lobby, welcomed. */
async function openSender(origin: string, nickname: string) {
  const res = await fetch(`${origin}/login`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      origin,
    },
    body: new URLSearchParams({ nickname }),
    redirect: "manual",
  });
  await res.body?.cancel();
  const cookie = res.headers.getSetCookie().map((c) => c.split(";")[0])
    .find((c) => c.startsWith("session="));
  if (!cookie) throw new Error(`Login of "${nickname}" failed: ${res.status}`);
  // Deno's WebSocket takes extra headers, which browsers do not allow
  const socket = new WebSocket(
    `${origin.replace(/^http/, "ws")}/ws`,
    { headers: { cookie } } as unknown as string[],
  );
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener("message", () => resolve(), { once: true });
    socket.addEventListener(
      "error",
      () => reject(new Error("Sender socket failed")),
    );
  });
  return socket;
}

/**
 * Sends the burst and resolves with the times (ms since the epoch) of its
 * first and last delivery back to the sender's own socket.
 */
function burst(socket: WebSocket, count: number, timeoutMs: number) {
  return new Promise<{ first: number; last: number }>((resolve, reject) => {
    let got = 0;
    let first = 0;
    const timer = setTimeout(
      () => reject(new Error(`Sender got ${got} of ${count} messages back`)),
      timeoutMs,
    );
    socket.addEventListener("message", (event) => {
      const frame = JSON.parse(String(event.data));
      const events = frame.type === "batch" ? frame.events : [frame];
      for (const e of events) {
        if (e.type !== "message" || !e.text.startsWith(PREFIX)) continue;
        if (++got === 1) first = Date.now();
        if (got === count) {
          clearTimeout(timer);
          resolve({ first, last: Date.now() });
        }
      }
    });
    for (let i = 0; i < count; i++) {
      socket.send(JSON.stringify({ type: "message", text: `${PREFIX}${i}` }));
    }
  });
}

/** Reader page errors and the collected figures, checked against the burst. */
function judge(
  options: PageOptions,
  times: { first: number; last: number },
  observed: Observed,
  errors: string[],
): PageResult {
  const { messages } = options;
  const texts = observed.texts.filter((t) => t.startsWith(PREFIX));
  const tail = Array.from(
    { length: texts.length },
    (_, i) => `${PREFIX}${messages - texts.length + i}`,
  );
  const inOrder = texts.length > 0 && texts.every((t, i) => t === tail[i]);
  return {
    kind: "page",
    messages,
    deliveryMs: times.last - times.first,
    lagMs: observed.doneAt - times.last,
    messagesPerSecond: messages / ((observed.doneAt - times.first) / 1000),
    longestTaskMs: observed.longestTaskMs,
    longTasks: observed.longTasks,
    added: observed.added,
    duplicated: observed.duplicated,
    outOfOrder: observed.outOfOrder,
    texts,
    errors,
    ok: inOrder && observed.duplicated === 0 && observed.outOfOrder === 0 &&
      errors.length === 0,
  };
}

/** Watches `page` for console and page errors. */
function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(msg.text());
  });
  page.on("pageerror", (err) => errors.push(err.message));
  return errors;
}

/** Measures one burst against a running server. */
export async function measurePageRender(
  options: PageOptions,
): Promise<PageResult> {
  const { origin, messages, timeoutMs = 120_000 } = options;
  const browser = await launchChromium();
  let socket: WebSocket | undefined;
  try {
    const context = await browser.newContext({
      locale: "en-US",
      viewport: { width: 1280, height: 800 },
    });
    const page = await context.newPage();
    const errors = collectErrors(page);
    // Fresh names: a name just used stays leased to its session a while
    const run = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
    await login(page, origin, `reader-${run}`);
    await page.evaluate(watchLog, { prefix: PREFIX, count: messages });
    socket = await openSender(origin, `sender-${run}`);
    const observed = page.evaluate(readObserved, timeoutMs);
    const times = await burst(socket, messages, timeoutMs);
    const figures = await observed;
    if (figures === null) {
      throw new Error(
        `The page did not show the last of ${messages} messages within ${timeoutMs} ms`,
      );
    }
    return judge(options, times, figures, errors);
  } finally {
    socket?.close();
    await browser.close();
  }
}

if (import.meta.main) {
  const [config = "{}", out] = Deno.args;
  const result = await measurePageRender(JSON.parse(config));
  // The full texts are for tests; the bench's report keeps the last few
  const json = JSON.stringify({ ...result, texts: result.texts.slice(-3) });
  if (out) await Deno.writeTextFile(out, json);
  else console.log(json);
}
