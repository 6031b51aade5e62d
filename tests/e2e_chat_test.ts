/**
 * End-to-end: people chatting in headless Chromium on the real app.
 * Each scenario is its own test with its own server; they share one
 * browser (tests/helpers/browser.ts).
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  annAndBo,
  annIn,
  browserTest,
  connected,
  countIs,
  focusedId,
  login,
  messageTexts,
  type Scene,
  seeMessage,
  send,
  setHidden,
  shot,
  users,
} from "./helpers/browser.ts";
import type { Page } from "playwright-core";

/** ann in a fresh lobby, with a bot she has seen join */
async function annAndBot(scene: Scene) {
  const { server, ann } = await annIn(scene);
  const bot = await server.join("bot");
  await ann.locator(".notice", { hasText: "bot joined" }).waitFor();
  return { server, ann, bot };
}

/** Whether the page's log is scrolled to (within 48 px of) its bottom */
function logAtBottom(page: Page): Promise<boolean> {
  return page.$eval(
    "#messages",
    (el) => el.scrollHeight - el.scrollTop - el.clientHeight < 48,
  );
}

browserTest("chat page carries messages both ways", async (scene) => {
  const { ann, bo } = await annAndBo(scene);
  assert.equal(await ann.title(), "Lobby · Chat");
  assert.equal(await bo.title(), "大厅 · 聊天室");
  await ann.locator("#online-count", { hasText: "2 online" }).waitFor();
  await bo.locator("#online-count", { hasText: "2 人在线" }).waitFor();
  assert.deepEqual(await users(ann), ["ann", "bo"]);

  // Focus starts in the message box on a desktop
  assert.equal(await focusedId(ann), "message-input");
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
  // A message's time gets its full date as a tooltip once pointed at
  const time = bo.locator(".msg", { hasText: "hello from ann" })
    .locator(".msg-time");
  await time.hover();
  assert.match((await time.getAttribute("title")) ?? "", /\d{4}/);
  assert.equal(
    await ann.locator(".msg.own .msg-text", { hasText: "hello from ann" })
      .count(),
    1,
  );
  assert.equal(
    await bo.locator(".msg.own", { hasText: "hello from ann" }).count(),
    0,
  );
  // Someone else's nickname has its palette colour (rules made by the page)
  const colour = await bo.locator(".msg-nick", { hasText: "ann" }).evaluate(
    (el) => {
      const index = [...el.classList].find((c) => /^nick-c\d$/.test(c))
        ?.slice("nick-c".length);
      const probe = document.createElement("span");
      probe.style.color = `var(--nick-${index})`;
      document.body.append(probe);
      const want = getComputedStyle(probe).color;
      probe.remove();
      return { index, got: getComputedStyle(el).color, want };
    },
  );
  assert.ok(colour.index !== undefined, "the nickname has a colour class");
  assert.equal(colour.got, colour.want);
  // Nickname and text are bidi-isolated, so an RLO in one stays inside it
  const isolation = await bo.locator(".msg", { hasText: "hello from ann" })
    .evaluate((el) =>
      [".msg-nick", ".msg-text"].map((sel) => {
        const part = el.querySelector<HTMLElement>(sel);
        return part && `${part.dir} ${getComputedStyle(part).unicodeBidi}`;
      })
    );
  assert.deepEqual(isolation, ["auto isolate", "auto isolate"]);

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
  await send(ann, "docs at https://example.com/a?b=1. and javascript:alert(1)");
  await seeMessage(bo, "docs at");
  const link = bo.locator("#messages a", { hasText: "example.com" });
  assert.equal(await link.getAttribute("href"), "https://example.com/a?b=1");
  assert.equal(await link.getAttribute("rel"), "noopener noreferrer nofollow");
  assert.equal(await link.getAttribute("target"), "_blank");
  assert.equal(await link.getAttribute("dir"), "ltr");
  assert.equal(await bo.locator("#messages a").count(), 1);

  await shot(ann, "chat-en.png");
  await shot(bo, "chat-zh-CN.png");
});

browserTest(
  "chat page announces a third person joining and leaving",
  async (scene) => {
    const { server, ann, bo } = await annAndBo(scene);
    await send(ann, "hello from ann");
    await seeMessage(bo, "hello from ann");
    const cy = await scene.page("cy");
    await login(cy, server.origin, "cy");
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
  },
);

browserTest(
  "message log sticks to the bottom, else shows a pill",
  async (scene) => {
    const { ann, bot: filler } = await annAndBot(scene);
    for (let i = 1; i <= 40; i++) {
      filler.send({ type: "message", text: `filler ${i}`, cid: `f${i}` });
    }
    await seeMessage(ann, "filler 40");
    const atBottom = () => logAtBottom(ann);
    assert.ok(await atBottom(), "follows new messages at the bottom");
    assert.ok(await ann.locator("#new-pill").isHidden());

    await ann.$eval("#messages", (el) => (el.scrollTop = 0));
    filler.send({ type: "message", text: "while scrolled" });
    await seeMessage(ann, "while scrolled");
    await ann.locator("#new-pill").waitFor({ state: "visible" });
    assert.ok(!(await atBottom()), "stays where the reader is");
    await ann.click("#new-pill");
    assert.ok(await atBottom());
    assert.ok(await ann.locator("#new-pill").isHidden());

    // The tab title counts unread messages while the tab is hidden
    await setHidden(ann, true);
    filler.send({ type: "message", text: "unseen 1" });
    filler.send({ type: "message", text: "unseen 2" });
    await seeMessage(ann, "unseen 2");
    assert.equal(await ann.title(), "(2) Lobby · Chat");
    await setHidden(ann, false);
    assert.equal(await ann.title(), "Lobby · Chat");
    await filler.close();
    await ann.locator(".notice", { hasText: "bot left" }).waitFor();
  },
);

browserTest(
  "a burst longer than the log keeps its newest, in order, at the bottom",
  async (scene) => {
    const { ann, bot } = await annAndBot(scene);
    const burst = (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        bot.send({ type: "message", text: `burst ${i}` });
      }
    };
    const atBottom = () => logAtBottom(ann);
    burst(0, 700);
    await seeMessage(ann, "burst 699");
    // The log keeps its newest 600 items, each once and in order
    assert.deepEqual(
      await messageTexts(ann),
      Array.from({ length: 600 }, (_, i) => `burst ${i + 100}`),
    );
    assert.equal(await ann.locator("#messages > *").count(), 600);
    assert.ok(await atBottom(), "follows the burst at the bottom");
    assert.ok(await ann.locator("#new-pill").isHidden());

    // Scrolled up, the reader stays put and the pill leads down
    await ann.$eval("#messages", (el) => (el.scrollTop = 0));
    burst(700, 800);
    await seeMessage(ann, "burst 799");
    await ann.locator("#new-pill").waitFor({ state: "visible" });
    assert.ok(!(await atBottom()), "stays where the reader is");
    assert.equal((await messageTexts(ann)).at(-1), "burst 799");
    await bot.close();
  },
);

browserTest("logout returns to login and frees the name", async (scene) => {
  const { server, ann, bo } = await annAndBo(scene);
  const origin = server.origin;
  // On a wide screen the side panel, with its logout button, is open.
  // The button is a quiet one, unlike the filled Send button
  const fill = (selector: string) =>
    bo.$eval(selector, (el) => getComputedStyle(el).backgroundColor);
  assert.equal(await fill(".logout-form button.secondary"), "rgba(0, 0, 0, 0)");
  assert.notEqual(await fill("#send-button"), "rgba(0, 0, 0, 0)");
  await Promise.all([
    bo.waitForURL(`${origin}/login`),
    bo.click(".logout-form button"),
  ]);
  assert.equal(await bo.locator("#nickname").count(), 1);
  // The session cookie is gone: the site root sends bo to login
  await bo.goto(`${origin}/`);
  assert.equal(bo.url(), `${origin}/login`);
  await ann.locator(".notice", { hasText: "bo left" }).waitFor();
  const bo2 = await scene.page("bo2", { locale: "zh-CN" });
  await login(bo2, origin, "bo");
  await countIs(ann.locator(".notice", { hasText: "bo joined" }), 2);
  await send(bo2, "bo is back");
  await seeMessage(ann, "bo is back");
});

browserTest(
  "outbox waits out rate limits and sends each message once",
  async (scene) => {
    const strict = await scene.serve({ RATE_BURST: "2", RATE_PER_SECOND: "2" });
    const page = await scene.page("rate");
    await login(page, strict.origin, "rate");
    const texts = ["burst 1", "burst 2", "burst 3", "burst 4", "burst 5"];
    for (const text of texts) await send(page, text);
    await page.locator(".notice-error", { hasText: "too fast" }).waitFor();
    await seeMessage(page, "burst 5");
    await countIs(page.locator(".msg.pending"), 0);
    assert.deepEqual(
      (await messageTexts(page)).filter((m) => m.startsWith("burst")),
      texts,
    );
    // One notice for the slow-down, not one per refused message
    assert.equal(await page.locator(".notice-error").count(), 1);
  },
);

browserTest(
  "rooms panel creates a room by name, lists it, switches back",
  async (scene) => {
    const { server, origin, ann } = await annIn(scene);
    // A second person in the lobby, so its count in the list is news
    await server.join("bo");
    const rio = await scene.page("rio");
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
    scene.watcher.allowed.push(/status of 404/);
    const response = await rio.goto(`${origin}/chat/Bad_Room`);
    assert.equal(response?.status(), 404);
    assert.equal(
      await rio.getAttribute("a.button[href='/chat']", "href"),
      "/chat",
    );
    scene.watcher.allowed.pop();
  },
);
