/**
 * Browser plumbing for the end-to-end tests: one headless Debian Chromium
 * driven by playwright-core and shared by every test of a file, a
 * {@linkcode Scene} per test (its own contexts and servers, with the bots
 * they joined, all closed when the test ends) and the page helpers the scenarios use.
 *
 * Set SCREENSHOTS=1 to also write PNGs of the pages to docs/screenshots/.
 * CHROMIUM_PATH overrides /usr/bin/chromium.
 *
 * @module
 */
import assert from "node:assert/strict";
import type {
  Browser,
  BrowserContext,
  BrowserContextOptions,
  Locator,
  Page,
} from "playwright-core";
import {
  HIGH_RATE,
  startServer,
  type TempDir,
  tempDir,
  type TestServer,
} from "./harness.ts";

const CHROMIUM = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";
// The closed network here refuses Chromium's own background traffic; these
// flags stop it from trying
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
/** Whether this run also writes the screenshots in docs/screenshots/. */
export const SCREENSHOTS = Deno.env.get("SCREENSHOTS") === "1";
const SHOTS_DIR = new URL("../../docs/screenshots/", import.meta.url);

/**
 * Loads playwright-core. Its bundled is-wsl probes
 * /proc/sys/fs/binfmt_misc/WSLInterop when the module loads, which Deno
 * only allows with --allow-all; this variable makes it wait until asked,
 * and nothing on the launch path asks
 */
async function loadPlaywright() {
  const had = Deno.env.get("__IS_WSL_TEST__");
  Deno.env.set("__IS_WSL_TEST__", "1");
  try {
    return await import("playwright-core");
  } finally {
    if (had === undefined) Deno.env.delete("__IS_WSL_TEST__");
  }
}

/** Launches headless Debian Chromium with the flags this closed network needs. */
export async function launchChromium(): Promise<Browser> {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: install Debian's package with "apt-get install -y chromium" (.ci/run does) or set CHROMIUM_PATH`,
    );
  }
  const { chromium } = await loadPlaywright();
  return await chromium.launch({
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
  });
}

// Launched by the first browser test that runs, so a --filter that picks
// none of them starts no Chromium
let browser: Promise<Browser> | undefined;

// Each test file runs in an isolate of its own, with its own copy of this
// module, so this closes that file's browser once its tests are done
Deno.test.afterAll(async () => {
  await (await browser?.catch(() => undefined))?.close();
  browser = undefined;
});

/**
 * Everything that must not happen on any page: console errors (CSP
 * violations are among them), uncaught exceptions and dialogs
 */
export class Watcher {
  problems: string[] = [];
  dialogs: string[] = [];
  /** Console errors that a step expects, e.g. the 409 of a taken nickname */
  allowed: RegExp[] = [];

  /** Starts listening to `page`, naming it `label` in what it reports. */
  watch(page: Page, label: string): Page {
    page.on("console", (msg) => {
      if (msg.type() !== "error") return;
      const text = msg.text();
      if (this.allowed.some((re) => re.test(text))) return;
      this.problems.push(`${label}: console error: ${text}`);
    });
    page.on("pageerror", (err) => {
      this.problems.push(`${label}: page error: ${err.message}`);
    });
    page.on("dialog", async (dialog) => {
      this.dialogs.push(`${label}: ${dialog.type()}: ${dialog.message()}`);
      await dialog.dismiss();
    });
    page.setDefaultTimeout(8000);
    return page;
  }
}

/** What one browser test has open: pages, servers, directories; closed at its end. */
export class Scene {
  readonly watcher = new Watcher();
  #browser: Browser;
  #contexts: BrowserContext[] = [];
  #servers: TestServer[] = [];
  #dirs: TempDir[] = [];

  constructor(browser: Browser) {
    this.#browser = browser;
  }

  /** A page in a fresh context (own cookies), English unless told otherwise. */
  async page(label: string, options: BrowserContextOptions = {}) {
    const context = await this.#browser.newContext({
      locale: "en-US",
      ...options,
    });
    this.#contexts.push(context);
    return this.watcher.watch(await context.newPage(), label);
  }

  /**
   * Starts an app for this test (see startServer in harness.ts); by default
   * with rate limits no scenario reaches, as a bot fills the log in a burst
   */
  async serve(
    env: Record<string, string> = HIGH_RATE,
    options: { port?: number } = {},
  ): Promise<TestServer> {
    const server = await startServer(env, options);
    this.#servers.push(server);
    return server;
  }

  /** A temporary directory, removed once the servers that use it are closed. */
  async tempDir(): Promise<string> {
    const dir = await tempDir("chat_e2e_");
    this.#dirs.push(dir);
    return dir.path;
  }

  /**
   * Closes the pages first, so no page sees its server go and complains,
   * then the servers (with the bots they joined), then the directories.
   */
  async close(): Promise<void> {
    for (const context of this.#contexts) await context.close().catch(() => {});
    for (const server of this.#servers.reverse()) await server.close();
    for (const dir of this.#dirs) await dir[Symbol.asyncDispose]();
  }
}

/**
 * Registers a browser scenario as its own Deno.test, with a fresh Scene;
 * it fails on any console error, page error or dialog it did not expect.
 */
export function browserTest(
  name: string,
  fn: (scene: Scene) => Promise<void>,
  options: { ignore?: boolean } = {},
): void {
  Deno.test({
    name,
    ignore: options.ignore,
    // Off for browser tests only: playwright's pipes to the shared
    // browser and its timers are opened by whichever test runs first and
    // live until afterAll, which the sanitizers would call that test's
    // leak. What a test opens itself, its Scene closes.
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      browser ??= launchChromium();
      const scene = new Scene(await browser);
      try {
        await fn(scene);
      } finally {
        await scene.close();
      }
      assert.deepEqual(scene.watcher.problems, []);
      assert.deepEqual(scene.watcher.dialogs, []);
    },
  });
}

/** ann, on an English page, logged in to the lobby of `server` or a fresh one */
export async function annIn(scene: Scene, server?: TestServer) {
  server ??= await scene.serve();
  const ann = await scene.page("ann");
  await login(ann, server.origin, "ann");
  return { server, ann, origin: server.origin };
}

/** ann (English), then bo (Chinese), in the lobby of `server` or a fresh one */
export async function annAndBo(scene: Scene, server?: TestServer) {
  const { ann, ...rest } = await annIn(scene, server);
  const bo = await scene.page("bo", { locale: "zh-CN" });
  await login(bo, rest.origin, "bo");
  return { ann, bo, ...rest };
}

/** Waits until the page's connection badge says connected */
export async function connected(page: Page): Promise<void> {
  await page.locator("#conn-badge.badge-connected").waitFor();
}

/** Logs in through the form as a person would, and waits for the chat */
export async function login(page: Page, origin: string, nickname: string) {
  await page.goto(`${origin}/login`);
  await page.fill("#nickname", nickname);
  await Promise.all([
    page.waitForURL(`${origin}/chat`),
    page.click(".login-form button[type=submit]"),
  ]);
  await connected(page);
}

/** Types a message and presses Enter */
export async function send(page: Page, text: string): Promise<void> {
  await page.fill("#message-input", text);
  await page.press("#message-input", "Enter");
}

/** Waits for a confirmed message with this exact text */
export async function seeMessage(page: Page, text: string): Promise<void> {
  await page.locator("#messages .msg:not(.pending) .msg-text").filter({
    hasText: text,
  }).first().waitFor();
}

/** The texts of all messages in the log, in order */
export function messageTexts(page: Page): Promise<string[]> {
  return page.$$eval(
    "#messages .msg .msg-text",
    (els) => els.map((e) => e.textContent ?? ""),
  );
}

/** The nicknames in the user list, in order */
export function users(page: Page): Promise<string[]> {
  return page.$$eval(
    "#user-list .user-name",
    (els) => els.map((e) => e.textContent ?? ""),
  );
}

/** The id of the element that has focus */
export function focusedId(page: Page): Promise<string | undefined> {
  return page.evaluate(() => document.activeElement?.id);
}

/** Waits until a locator matches exactly `count` elements */
export async function countIs(locator: Locator, count: number): Promise<void> {
  const deadline = Date.now() + 8000;
  for (;;) {
    const now = await locator.count();
    if (now === count) return;
    if (Date.now() > deadline) {
      throw new Error(`Expected ${count} matches, found ${now}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Fails when the page scrolls sideways */
export async function noHorizontalScroll(page: Page): Promise<void> {
  const sizes = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    client: document.documentElement.clientWidth,
    body: document.body.scrollWidth,
  }));
  assert.ok(
    sizes.scroll <= sizes.client && sizes.body <= sizes.client,
    `horizontal scroll: ${JSON.stringify(sizes)}`,
  );
}

/**
 * Makes the page believe its tab is hidden or shown again (headless
 * Chromium never hides one); showing it fires visibilitychange.
 */
export async function setHidden(page: Page, hidden: boolean): Promise<void> {
  await page.evaluate((value) => {
    Object.defineProperty(document, "hidden", {
      configurable: true,
      get: () => value,
    });
    if (!value) document.dispatchEvent(new Event("visibilitychange"));
  }, hidden);
}

/** Writes docs/screenshots/`name` when SCREENSHOTS=1 */
export async function shot(page: Page, name: string): Promise<void> {
  if (!SCREENSHOTS) return;
  await Deno.mkdir(SHOTS_DIR, { recursive: true });
  // Let fonts and the last frame settle so the picture is what a person sees
  await page.waitForTimeout(150);
  await page.screenshot({ path: new URL(name, SHOTS_DIR).pathname });
}

/** A phone as the layout tests and screenshots use it */
export const PHONE: BrowserContextOptions = {
  viewport: { width: 375, height: 667 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
};
