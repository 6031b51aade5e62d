/**
 * End-to-end tests: the real app served on loopback and driven by headless
 * Debian Chromium through playwright-core, as people would use it.
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
import { loadConfig } from "../lib/app/config.ts";
import { createApp } from "../main.ts";
import { roomPath, roomSlug, socketUrl } from "../static/chat/addresses.js";
import { backoffDelay } from "../static/chat/connection.js";
import {
  format,
  linkSegments,
  nickColourClass,
  nickColourRules,
} from "../static/chat/text.js";

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
const SECRET = "e2e-cookie-secret-0123456789-abcdefghijklmnop";
const SCREENSHOTS = Deno.env.get("SCREENSHOTS") === "1";
const SHOTS_DIR = new URL("../docs/screenshots/", import.meta.url);
const XSS = "<img src=x onerror=alert(1)>";
// The full payload is longer than a nickname may be; this one fits
const XSS_NICK = "<svg/onload=alert(1)>";

// ---- Client helpers from static/chat/: no browser needed ----

Deno.test("client: links are http(s) only and stop where the URL stops", () => {
  assert.deepEqual(linkSegments("see https://example.com/a?b=1."), [
    { text: "see " },
    { text: "https://example.com/a?b=1", href: "https://example.com/a?b=1" },
    { text: "." },
  ]);
  assert.deepEqual(linkSegments("看这个http://example.com/x，很好"), [
    { text: "看这个" },
    { text: "http://example.com/x", href: "http://example.com/x" },
    { text: "，很好" },
  ]);
  assert.deepEqual(
    linkSegments("(https://en.wikipedia.org/wiki/Foo_(bar))"),
    [
      { text: "(" },
      {
        text: "https://en.wikipedia.org/wiki/Foo_(bar)",
        href: "https://en.wikipedia.org/wiki/Foo_(bar)",
      },
      { text: ")" },
    ],
  );
  for (
    const text of [
      "javascript:alert(1)",
      "data:text/html,<b>x</b>",
      "ftp://example.com",
      "http://",
      "https:// spaced",
      "xhttps://example.com",
      XSS,
    ]
  ) {
    assert.ok(
      linkSegments(text).every((s) => s.href === undefined),
      `no link in ${text}`,
    );
  }
  assert.deepEqual(linkSegments(""), []);
  // Text around links is kept exactly, nothing added or lost
  const text = "a https://x.org/1 b http://y.org/2?q=<i> c";
  assert.equal(linkSegments(text).map((s) => s.text).join(""), text);
});

Deno.test("client: room slugs, paths and socket URLs", () => {
  assert.equal(roomSlug("  Dev Team "), "dev-team");
  assert.equal(roomSlug("a_b"), "a-b");
  assert.equal(roomSlug("lobby"), "lobby");
  assert.equal(roomSlug(""), null);
  assert.equal(roomSlug("中文"), null);
  assert.equal(roomSlug("x".repeat(33)), null);
  assert.equal(roomSlug("../etc"), null);
  assert.equal(roomPath("lobby"), "/chat");
  assert.equal(roomPath("dev"), "/chat/dev");
  assert.equal(
    socketUrl({ protocol: "http:", host: "h:1" }, "lobby"),
    "ws://h:1/ws/lobby",
  );
  assert.equal(
    socketUrl({ protocol: "https:", host: "h" }, "dev", 42),
    "wss://h/ws/dev?since=42",
  );
});

Deno.test("client: reconnect backoff grows from 1 s to 30 s with jitter", () => {
  assert.equal(backoffDelay(0, () => 0), 1000);
  assert.equal(backoffDelay(0, () => 1), 1000);
  assert.equal(backoffDelay(1, () => 0), 1000);
  assert.equal(backoffDelay(1, () => 1), 2000);
  assert.equal(backoffDelay(3, () => 0), 4000);
  assert.equal(backoffDelay(3, () => 1), 8000);
  for (let attempt = 0; attempt < 40; attempt++) {
    const delay = backoffDelay(attempt);
    assert.ok(delay >= 1000 && delay <= 30_000, `${attempt}: ${delay}`);
  }
  assert.equal(backoffDelay(20, () => 1), 30_000);
  assert.equal(backoffDelay(20, () => 0), 15_000);
});

Deno.test("client: format and nickname colours", () => {
  assert.equal(format("{a} and {b}", { a: 1 }), "1 and {b}");
  assert.equal(format("{a}", { a: "$&{a}" }), "$&{a}");
  assert.equal(nickColourClass("ann"), nickColourClass("ann"));
  assert.match(nickColourClass(XSS), /^nick-c[0-7]$/);
});

Deno.test("client: every nickname colour class gets its palette colour", () => {
  const rules = nickColourRules();
  assert.equal(rules.length, 8);
  rules.forEach((rule, i) => {
    assert.equal(rule, `.nick-c${i} { color: var(--nick-${i}); }`);
  });
});

// ---- The browser tests ----

/** The app served on a loopback port, restartable on the same port */
interface Server {
  origin: string;
  port: number;
  close(): Promise<void>;
}

async function startServer(
  kvPath: string,
  port = 0,
  env: Record<string, string> = {},
): Promise<Server> {
  const config = loadConfig({
    COOKIE_SECRET: SECRET,
    KV_PATH: kvPath,
    HOSTNAME: "127.0.0.1",
    PORT: String(port),
    // The bot below posts a burst to fill the log; people are not limited
    // by it in these tests
    RATE_BURST: "200",
    RATE_PER_SECOND: "50",
    ...env,
  });
  const chat = await createApp(config, { log: () => {} });
  const server = Deno.serve(
    { port, hostname: "127.0.0.1", onListen() {} },
    chat.app.fetch,
  );
  const actual = server.addr.port;
  return {
    origin: `http://127.0.0.1:${actual}`,
    port: actual,
    async close() {
      chat.hub.shutdown();
      await server.shutdown();
      await chat.close();
    },
  };
}

/** Logs in over plain HTTP and returns the session cookie pair */
async function httpLogin(origin: string, nickname: string): Promise<string> {
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
  const cookie = res.headers.get("set-cookie")?.split(";")[0];
  if (res.status !== 303 || !cookie) {
    throw new Error(`Bot login of "${nickname}" failed: ${res.status}`);
  }
  return cookie;
}

/** A scripted participant on a raw WebSocket, for bulk traffic */
async function openBot(origin: string, cookie: string): Promise<WebSocket> {
  // Deno's WebSocket takes extra headers, which a browser's does not
  const socket = new WebSocket(
    `${origin.replace(/^http/, "ws")}/ws/lobby`,
    { headers: { cookie } } as unknown as string[],
  );
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener("message", (e) => {
      if (JSON.parse(String(e.data)).type === "welcome") resolve();
    });
    socket.addEventListener("error", () => reject(new Error("Bot failed")));
  });
  return socket;
}

function closeBot(socket: WebSocket): Promise<void> {
  if (socket.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    socket.addEventListener("close", () => resolve(), { once: true });
    socket.close();
  });
}

/**
 * Everything that must not happen on any page: console errors (CSP
 * violations are among them), uncaught exceptions and dialogs
 */
class Watcher {
  problems: string[] = [];
  dialogs: string[] = [];
  /** Console errors that a step expects, e.g. the 409 of a taken nickname */
  allowed: RegExp[] = [];

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

/** Waits until the page's connection badge says connected */
async function connected(page: Page): Promise<void> {
  await page.locator("#conn-badge.badge-connected").waitFor();
}

/** Logs in through the form as a person would, and waits for the chat */
async function login(page: Page, origin: string, nickname: string) {
  await page.goto(`${origin}/login`);
  await page.fill("#nickname", nickname);
  await Promise.all([
    page.waitForURL(`${origin}/chat`),
    page.click(".login-form button[type=submit]"),
  ]);
  await connected(page);
}

/** Types a message and presses Enter */
async function send(page: Page, text: string): Promise<void> {
  await page.fill("#message-input", text);
  await page.press("#message-input", "Enter");
}

/** Waits for a confirmed message with this exact text */
async function seeMessage(page: Page, text: string): Promise<void> {
  await page.locator("#messages .msg:not(.pending) .msg-text").filter({
    hasText: text,
  }).first().waitFor();
}

/** The texts of all messages in the log, in order */
function messageTexts(page: Page): Promise<string[]> {
  return page.$$eval(
    "#messages .msg .msg-text",
    (els) => els.map((e) => e.textContent ?? ""),
  );
}

async function users(page: Page): Promise<string[]> {
  return await page.$$eval(
    "#user-list .user-name",
    (els) => els.map((e) => e.textContent ?? ""),
  );
}

/** Waits until a locator matches exactly `count` elements */
async function countIs(locator: Locator, count: number): Promise<void> {
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

async function noHorizontalScroll(page: Page): Promise<void> {
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

async function shot(page: Page, name: string): Promise<void> {
  if (!SCREENSHOTS) return;
  await Deno.mkdir(SHOTS_DIR, { recursive: true });
  // Let fonts and the last frame settle so the picture is what a person sees
  await page.waitForTimeout(150);
  await page.screenshot({ path: new URL(name, SHOTS_DIR).pathname });
}

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

async function requireChromium(): Promise<void> {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: install Debian's package with "apt-get install -y chromium" (.ci/run does) or set CHROMIUM_PATH`,
    );
  }
}

Deno.test({
  name: "e2e: people chat in headless Chromium",
  // Playwright keeps its driver pipes and timers alive between tests
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    await requireChromium();
    const { chromium } = await loadPlaywright();
    const dir = await Deno.makeTempDir({ prefix: "chat_e2e_" });
    const kvPath = `${dir}/chat.db`;
    let server = await startServer(kvPath);
    const origin = server.origin;
    const watcher = new Watcher();
    let browser: Browser | undefined;
    const contexts: BrowserContext[] = [];
    const bots: WebSocket[] = [];

    async function newPage(
      label: string,
      options: BrowserContextOptions = {},
    ): Promise<Page> {
      const context = await browser!.newContext({
        locale: "en-US",
        ...options,
      });
      contexts.push(context);
      return watcher.watch(await context.newPage(), label);
    }

    try {
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: CHROMIUM_ARGS,
      });
      const ann = await newPage("ann", { locale: "en-US" });
      const bo = await newPage("bo", { locale: "zh-CN" });
      let bo2: Page | undefined;

      await t.step("login page renders in English and Chinese", async () => {
        await ann.goto(`${origin}/login`);
        assert.equal(await ann.getAttribute("html", "lang"), "en");
        assert.equal(
          (await ann.textContent("label[for=nickname]"))?.trim(),
          "Nickname",
        );
        assert.match(
          (await ann.textContent("#nickname-help")) ?? "",
          /name others see/,
        );
        assert.equal(await ann.locator("[role=alert]").count(), 0);
        await shot(ann, "login-en.png");

        // The CSP is on and the watcher hears about violations
        await ann.evaluate(() => {
          const script = document.createElement("script");
          script.textContent = "window.inlineRan = true";
          document.body.append(script);
        });
        await ann.waitForTimeout(100);
        assert.equal(await ann.evaluate(() => "inlineRan" in window), false);
        assert.equal(watcher.problems.length, 1, watcher.problems.join("\n"));
        assert.match(watcher.problems[0], /Content Security Policy/);
        watcher.problems.length = 0;

        await bo.goto(`${origin}/login`);
        assert.equal(await bo.getAttribute("html", "lang"), "zh-CN");
        assert.equal(
          (await bo.textContent("label[for=nickname]"))?.trim(),
          "昵称",
        );
        assert.equal(
          (await bo.textContent(".login-form button"))?.trim(),
          "进入聊天",
        );
      });

      await t.step("two people chat both ways", async () => {
        await login(ann, origin, "ann");
        await login(bo, origin, "bo");
        assert.equal(await ann.title(), "Lobby · Chat");
        assert.equal(await bo.title(), "大厅 · 聊天室");
        await ann.locator("#online-count", { hasText: "2 online" }).waitFor();
        await bo.locator("#online-count", { hasText: "2 人在线" }).waitFor();
        assert.deepEqual(await users(ann), ["ann", "bo"]);

        // Focus starts in the message box on a desktop
        assert.equal(
          await ann.evaluate(() => document.activeElement?.id),
          "message-input",
        );
        // Typing shows up on the other side
        await ann.type("#message-input", "typing");
        await bo.locator("#typing", { hasText: "ann 正在输入" }).waitFor();
        await send(ann, "hello from ann");
        // A message ends its sender's typing notice
        await bo.locator("#typing", { hasText: "ann" }).waitFor({
          state: "hidden",
        });
        await seeMessage(bo, "hello from ann");
        await seeMessage(ann, "hello from ann");
        assert.equal(
          await ann.locator(".msg.own .msg-text", { hasText: "hello from ann" })
            .count(),
          1,
        );
        assert.equal(
          await bo.locator(".msg.own", { hasText: "hello from ann" }).count(),
          0,
        );
        // Someone else's nickname has its palette colour (the page makes
        // the rules)
        const colour = await bo.locator(".msg-nick", { hasText: "ann" })
          .evaluate((el) => {
            const index = [...el.classList].find((c) => /^nick-c\d$/.test(c))
              ?.slice("nick-c".length);
            const probe = document.createElement("span");
            probe.style.color = `var(--nick-${index})`;
            document.body.append(probe);
            const want = getComputedStyle(probe).color;
            probe.remove();
            return { index, got: getComputedStyle(el).color, want };
          });
        assert.ok(
          colour.index !== undefined,
          "the nickname has a colour class",
        );
        assert.equal(colour.got, colour.want);

        // The send button works too, and Chinese text goes through intact
        await bo.fill("#message-input", "你好，ann！");
        await bo.click("#send-button");
        await seeMessage(ann, "你好，ann！");

        // Shift+Enter makes a new line, Enter sends
        await ann.fill("#message-input", "");
        await ann.type("#message-input", "line one");
        await ann.keyboard.press("Shift+Enter");
        await ann.keyboard.type("line two");
        await ann.keyboard.press("Enter");
        await seeMessage(bo, "line one");
        assert.ok((await messageTexts(bo)).includes("line one\nline two"));

        // Empty and blank input is not sent
        const before = (await messageTexts(ann)).length;
        await send(ann, "   ");
        await ann.press("#message-input", "Enter");
        await ann.waitForTimeout(200);
        assert.equal((await messageTexts(ann)).length, before);

        // Links become links, nothing else does
        await send(
          ann,
          "docs at https://example.com/a?b=1. and javascript:alert(1)",
        );
        await seeMessage(bo, "docs at");
        const link = bo.locator("#messages a", { hasText: "example.com" });
        assert.equal(
          await link.getAttribute("href"),
          "https://example.com/a?b=1",
        );
        assert.equal(
          await link.getAttribute("rel"),
          "noopener noreferrer nofollow",
        );
        assert.equal(await link.getAttribute("target"), "_blank");
        assert.equal(await bo.locator("#messages a").count(), 1);

        await shot(ann, "chat-en.png");
        await shot(bo, "chat-zh-CN.png");
      });

      await t.step("a third person joins and leaves", async () => {
        const cy = await newPage("cy");
        await login(cy, origin, "cy");
        await ann.locator(".notice", { hasText: "cy joined" }).waitFor();
        await bo.locator(".notice", { hasText: "cy 加入了" }).waitFor();
        await ann.locator("#online-count", { hasText: "3 online" }).waitFor();
        assert.deepEqual(await users(ann), ["ann", "bo", "cy"]);
        // The newcomer gets the history
        await seeMessage(cy, "hello from ann");
        await cy.close();
        await ann.locator(".notice", { hasText: "cy left" }).waitFor();
        await bo.locator(".notice", { hasText: "cy 离开了" }).waitFor();
        await ann.locator("#online-count", { hasText: "2 online" }).waitFor();
        assert.deepEqual(await users(ann), ["ann", "bo"]);
      });

      await t.step("markup in messages and nicknames stays text", async () => {
        await send(ann, XSS);
        await seeMessage(bo, XSS);

        // Too long as a nickname: the hint shows and the value is kept as text
        const eve = await newPage("eve");
        watcher.allowed.push(/status of 400/);
        await eve.goto(`${origin}/login`);
        await eve.fill("#nickname", XSS);
        await eve.click(".login-form button[type=submit]");
        await eve.locator("[role=alert]").waitFor();
        assert.equal(await eve.inputValue("#nickname"), XSS);
        assert.match(
          (await eve.textContent("[role=alert]")) ?? "",
          /too long/,
        );
        await eve.fill("#nickname", XSS_NICK);
        await Promise.all([
          eve.waitForURL(`${origin}/chat`),
          eve.click(".login-form button[type=submit]"),
        ]);
        watcher.allowed.pop();
        await connected(eve);
        await send(eve, `${XSS} from eve`);
        await seeMessage(ann, `${XSS} from eve`);
        await ann.locator("#user-list .user-name", { hasText: XSS_NICK })
          .waitFor();
        assert.equal(
          await ann.locator(".msg-nick", { hasText: XSS_NICK }).count(),
          1,
        );
        assert.equal(await eve.textContent(".me-name"), XSS_NICK);
        for (const page of [ann, bo, eve]) {
          assert.equal(
            await page.locator("#app img, #app svg").count(),
            0,
            "no element made from user text",
          );
        }
        await eve.close();
        await ann.locator(".notice", { hasText: `${XSS_NICK} left` }).waitFor();
        assert.deepEqual(watcher.dialogs, []);
      });

      await t.step("a taken nickname shows the hint", async () => {
        const other = await newPage("other");
        watcher.allowed.push(/status of 409/);
        await other.goto(`${origin}/login`);
        await other.fill("#nickname", "ann");
        const [response] = await Promise.all([
          other.waitForResponse((r) => r.url() === `${origin}/login`),
          other.click(".login-form button[type=submit]"),
        ]);
        assert.equal(response.status(), 409);
        await other.locator("[role=alert]").waitFor();
        assert.match(
          (await other.textContent("[role=alert]")) ?? "",
          /already using/,
        );
        assert.equal(await other.inputValue("#nickname"), "ann");
        assert.equal(
          await other.evaluate(() => document.activeElement?.id),
          "nickname",
        );
        watcher.allowed.pop();
        await other.close();
      });

      await t.step(
        "the log sticks to the bottom, else shows a pill",
        async () => {
          const cookie = await httpLogin(origin, "bot");
          const bot = await openBot(origin, cookie);
          bots.push(bot);
          await ann.locator(".notice", { hasText: "bot joined" }).waitFor();
          for (let i = 1; i <= 40; i++) {
            bot.send(
              JSON.stringify({
                type: "message",
                text: `filler ${i}`,
                cid: `f${i}`,
              }),
            );
          }
          await seeMessage(ann, "filler 40");
          const atBottom = () =>
            ann.$eval(
              "#messages",
              (el) => el.scrollHeight - el.scrollTop - el.clientHeight < 48,
            );
          assert.ok(await atBottom(), "follows new messages at the bottom");
          assert.ok(await ann.locator("#new-pill").isHidden());

          await ann.$eval("#messages", (el) => (el.scrollTop = 0));
          bot.send(JSON.stringify({ type: "message", text: "while scrolled" }));
          await seeMessage(ann, "while scrolled");
          await ann.locator("#new-pill").waitFor({ state: "visible" });
          assert.ok(!(await atBottom()), "stays where the reader is");
          await ann.click("#new-pill");
          assert.ok(await atBottom());
          assert.ok(await ann.locator("#new-pill").isHidden());

          // The tab title counts unread messages while the tab is hidden
          await ann.evaluate(() => {
            Object.defineProperty(document, "hidden", {
              configurable: true,
              get: () => true,
            });
          });
          bot.send(JSON.stringify({ type: "message", text: "unseen 1" }));
          bot.send(JSON.stringify({ type: "message", text: "unseen 2" }));
          await seeMessage(ann, "unseen 2");
          assert.equal(await ann.title(), "(2) Lobby · Chat");
          await ann.evaluate(() => {
            Object.defineProperty(document, "hidden", {
              configurable: true,
              get: () => false,
            });
            document.dispatchEvent(new Event("visibilitychange"));
          });
          assert.equal(await ann.title(), "Lobby · Chat");
          await closeBot(bot);
          await ann.locator(".notice", { hasText: "bot left" }).waitFor();
        },
      );

      await t.step("logout returns to login and frees the name", async () => {
        // On a wide screen the side panel, with its logout button, is open
        await Promise.all([
          bo.waitForURL(`${origin}/login`),
          bo.click(".logout-form button"),
        ]);
        assert.equal(await bo.locator("#nickname").count(), 1);
        // The session cookie is gone: the site root sends bo to login
        await bo.goto(`${origin}/`);
        assert.equal(bo.url(), `${origin}/login`);
        await ann.locator(".notice", { hasText: "bo left" }).waitFor();
        bo2 = await newPage("bo2", { locale: "zh-CN" });
        await login(bo2, origin, "bo");
        await countIs(ann.locator(".notice", { hasText: "bo joined" }), 2);
        await send(bo2, "bo is back");
        await seeMessage(ann, "bo is back");
      });

      await t.step(
        "the page reconnects by itself after a restart",
        async () => {
          assert.ok(bo2, "bo is logged in again");
          const seenBefore = await messageTexts(ann);
          // Reconnect attempts while the port is closed fail loudly in the
          // console; that is expected only here
          watcher.allowed.push(/WebSocket connection to .* failed/);
          await server.close();
          await ann.locator("#conn-badge.badge-reconnecting").waitFor();
          // Written while the server is down: kept and sent after reconnecting
          await send(ann, "sent while down");
          await ann.locator(".msg.pending", { hasText: "sent while down" })
            .waitFor();
          server = await startServer(kvPath, server.port);
          await connected(ann);
          await connected(bo2);
          watcher.allowed.pop();
          await seeMessage(bo2, "sent while down");
          await seeMessage(ann, "sent while down");
          await send(bo2, "after restart");
          await seeMessage(ann, "after restart");
          await send(ann, "ann after restart");
          await seeMessage(bo2, "ann after restart");

          // Nothing shown twice, nothing lost
          const after = await messageTexts(ann);
          assert.deepEqual(after.slice(0, seenBefore.length), seenBefore);
          assert.equal(new Set(after).size, after.length, after.join(" | "));
          assert.equal(
            after.filter((m) => m === "sent while down").length,
            1,
          );
          assert.equal(await ann.locator(".msg.pending").count(), 0);
        },
      );

      await t.step("offline disables the input until back online", async () => {
        const context = ann.context();
        watcher.allowed.push(/ERR_INTERNET_DISCONNECTED|WebSocket connection/);
        await ann.focus("#message-input");
        await context.setOffline(true);
        await ann.locator("#conn-badge.badge-offline", { hasText: "Offline" })
          .waitFor();
        assert.ok(await ann.isDisabled("#message-input"));
        assert.ok(await ann.isDisabled("#send-button"));
        await context.setOffline(false);
        await connected(ann);
        watcher.allowed.pop();
        assert.ok(await ann.isEnabled("#message-input"));
        assert.equal(
          await ann.evaluate(() => document.activeElement?.id),
          "message-input",
          "focus comes back to the input",
        );
        await send(ann, "back online");
        await seeMessage(ann, "back online");
      });

      await t.step("the language switch is remembered", async () => {
        const lin = await newPage("lin", { locale: "zh-CN" });
        await lin.goto(`${origin}/login`);
        assert.equal(await lin.getAttribute("html", "lang"), "zh-CN");
        await Promise.all([
          lin.waitForURL(`${origin}/login`),
          lin.waitForEvent("load"),
          lin.click("button[data-lang=en]"),
        ]);
        assert.equal(await lin.getAttribute("html", "lang"), "en");
        await login(lin, origin, "lin");
        assert.equal(await lin.getAttribute("html", "lang"), "en");
        assert.equal((await lin.textContent("#send-button"))?.trim(), "Send");
        await Promise.all([
          lin.waitForEvent("load"),
          lin.click("button[data-lang=zh-CN]"),
        ]);
        assert.equal(await lin.getAttribute("html", "lang"), "zh-CN");
        await connected(lin);
        assert.equal((await lin.textContent("#send-button"))?.trim(), "发送");
        assert.equal(await lin.textContent("#conn-badge"), "已连接");
        await lin.close();
      });

      await t.step(
        "rate limits: messages wait their turn, sent once",
        async () => {
          const strict = await startServer(":memory:", 0, {
            RATE_BURST: "2",
            RATE_PER_SECOND: "2",
          });
          try {
            const page = await newPage("rate");
            await login(page, strict.origin, "rate");
            const texts = [
              "burst 1",
              "burst 2",
              "burst 3",
              "burst 4",
              "burst 5",
            ];
            for (const text of texts) await send(page, text);
            await page.locator(".notice-error", { hasText: "too fast" })
              .waitFor();
            await seeMessage(page, "burst 5");
            await countIs(page.locator(".msg.pending"), 0);
            assert.deepEqual(
              (await messageTexts(page)).filter((m) => m.startsWith("burst")),
              texts,
            );
            // One notice for the slow-down, not one per refused message
            assert.equal(await page.locator(".notice-error").count(), 1);
            await page.close();
          } finally {
            await strict.close();
          }
        },
      );

      await t.step(
        "a session the server no longer accepts sends the page to login",
        async () => {
          // A restart with a new secret (and no old one to verify with)
          // invalidates every cookie: the upgrade gets 401.
          let other = await startServer(":memory:");
          const page = await newPage("gone");
          watcher.allowed.push(
            /WebSocket connection|status of 401|ERR_CONNECTION_REFUSED/,
          );
          try {
            await login(page, other.origin, "gone");
            await connected(page);
            const port = other.port;
            await other.close();
            other = await startServer(":memory:", port, {
              COOKIE_SECRET: "a-brand-new-secret-0123456789-abcdefgh",
            });
            await page.waitForURL(`${other.origin}/login`, { timeout: 15_000 });
            await page.locator("input[name=nickname]").waitFor();
          } finally {
            watcher.allowed.pop();
            await page.close();
            await other.close();
          }
        },
      );

      await t.step("rooms: create by name, list, switch back", async () => {
        const rio = await newPage("rio");
        await login(rio, origin, "rio");
        await rio.fill("#room-input", "中文");
        await rio.press("#room-input", "Enter");
        await rio.locator("#room-error", { hasText: "lowercase" }).waitFor();
        assert.equal(rio.url(), `${origin}/chat`);

        await rio.fill("#room-input", "Dev Team");
        await Promise.all([
          rio.waitForURL(`${origin}/chat/dev-team`),
          rio.press("#room-input", "Enter"),
        ]);
        await connected(rio);
        assert.equal(await rio.title(), "dev-team · Chat");
        assert.equal(await rio.textContent("#room-name"), "dev-team");
        assert.deepEqual(await users(rio), ["rio"]);
        // The list comes from /api/rooms: the lobby has the others in it
        const lobby = rio.locator(".room-link[href='/chat']");
        await lobby.locator(".room-link-count", { hasText: /^[2-9] online$/ })
          .waitFor();
        assert.equal(
          await rio.getAttribute(
            ".room-link[href='/chat/dev-team']",
            "aria-current",
          ),
          "page",
        );
        await send(rio, "only in dev-team");
        await seeMessage(rio, "only in dev-team");
        await Promise.all([rio.waitForURL(`${origin}/chat`), lobby.click()]);
        await connected(rio);
        assert.ok(!(await messageTexts(ann)).includes("only in dev-team"));

        // A room name that cannot exist gets the not-found page
        watcher.allowed.push(/status of 404/);
        const response = await rio.goto(`${origin}/chat/Bad_Room`);
        assert.equal(response?.status(), 404);
        assert.equal(
          await rio.getAttribute("a.button[href='/chat']", "href"),
          "/chat",
        );
        watcher.allowed.pop();
        await rio.close();
      });

      await t.step("keyboard only: skip link, typing, sending", async () => {
        const kim = await newPage("kim");
        await kim.goto(`${origin}/login`);
        await kim.keyboard.press("Tab");
        assert.equal(
          await kim.evaluate(() => document.activeElement?.id),
          "nickname",
        );
        await kim.keyboard.type("kim");
        await Promise.all([
          kim.waitForURL(`${origin}/chat`),
          kim.keyboard.press("Enter"),
        ]);
        await connected(kim);
        const focused = () => kim.evaluate(() => document.activeElement?.id);
        assert.equal(await focused(), "message-input");
        await kim.keyboard.type("typed with keys only");
        await kim.keyboard.press("Enter");
        await seeMessage(ann, "typed with keys only");
        await kim.keyboard.press("Tab");
        assert.equal(await focused(), "send-button");

        // The skip link is the first stop from the top and shows when focused
        await kim.focus(".skip-link");
        const box = await kim.locator(".skip-link").boundingBox();
        assert.ok(
          box && box.y >= 0,
          `skip link on screen: ${JSON.stringify(box)}`,
        );
        await kim.keyboard.press("Enter");
        assert.equal(await focused(), "message-input");
        await kim.close();
      });

      await t.step(
        "a 375 px phone shows input and messages, no sideways scroll",
        async () => {
          const pat = await newPage("pat", {
            viewport: { width: 375, height: 667 },
            deviceScaleFactor: 2,
            isMobile: true,
            hasTouch: true,
            locale: "zh-CN",
          });
          await login(pat, origin, "pat");
          await seeMessage(pat, "ann after restart");
          await send(
            pat,
            "手机上的消息 with a long unbroken token " + "x".repeat(80),
          );
          await seeMessage(ann, "手机上的消息");
          await noHorizontalScroll(pat);
          for (
            const selector of ["#message-input", "#send-button", "#messages"]
          ) {
            const box = await pat.locator(selector).boundingBox();
            assert.ok(box, `${selector} is rendered`);
            assert.ok(
              box.x >= 0 && box.x + box.width <= 375 && box.y < 667,
              `${selector} is on screen: ${JSON.stringify(box)}`,
            );
          }
          assert.ok(await pat.locator("#side-panel").isHidden());
          await shot(pat, "chat-phone-zh-CN.png");

          // The side panel is a drawer here
          await pat.click("#panel-toggle");
          await pat.locator("#side-panel #user-list").waitFor({
            state: "visible",
          });
          assert.equal(
            await pat.getAttribute("#panel-toggle", "aria-expanded"),
            "true",
          );
          assert.ok((await users(pat)).includes("pat"));
          await shot(pat, "chat-phone-panel-zh-CN.png");
          await pat.keyboard.press("Escape");
          await pat.locator("#side-panel").waitFor({ state: "hidden" });

          await pat.setViewportSize({ width: 320, height: 568 });
          await noHorizontalScroll(pat);
          const box = await pat.locator("#send-button").boundingBox();
          assert.ok(box && box.x + box.width <= 320, JSON.stringify(box));
          await pat.goto(`${origin}/login`);
          await noHorizontalScroll(pat);
          await pat.close();
        },
      );

      if (SCREENSHOTS) {
        await t.step("screenshots of the remaining pages", async () => {
          const page = await newPage("shots", { locale: "zh-CN" });
          watcher.allowed.push(/status of 409/);
          await page.goto(`${origin}/login`);
          await page.fill("#nickname", "ann");
          await page.click(".login-form button[type=submit]");
          await page.locator("[role=alert]").waitFor();
          await shot(page, "login-zh-CN-hint.png");
          watcher.allowed.pop();
          const phone = await newPage("phone", {
            viewport: { width: 375, height: 667 },
            deviceScaleFactor: 2,
            isMobile: true,
            hasTouch: true,
          });
          await phone.goto(`${origin}/login`);
          await shot(phone, "login-phone-en.png");
          const dark = await newPage("dark", { colorScheme: "dark" });
          await login(dark, origin, "dee");
          await seeMessage(dark, "ann after restart");
          await send(dark, "Dark mode, see https://example.com");
          await seeMessage(dark, "Dark mode");
          await shot(dark, "chat-dark-en.png");
        });
      }

      await t.step("no console error, page error or dialog anywhere", () => {
        assert.deepEqual(watcher.problems, []);
        assert.deepEqual(watcher.dialogs, []);
      });
    } finally {
      for (const bot of bots) await closeBot(bot);
      for (const context of contexts) await context.close().catch(() => {});
      await browser?.close();
      await server.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
