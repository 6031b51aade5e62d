/**
 * End-to-end: mentions (highlight, the @ picker, the title count, opt-in
 * notifications) and unread counts per room with the "new since you left"
 * line, between ann (English) and bo (Chinese) in headless Chromium.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  annIn,
  browserTest,
  connected,
  login,
  PHONE,
  seeMessage,
  send,
  setHidden,
  shot,
} from "./helpers/browser.ts";

browserTest("mentions are offered, highlighted, counted and notified", async (
  scene,
) => {
  const { ann, origin, server } = await annIn(scene);
  const bo = await scene.page("bo", { locale: "zh-CN" });
  // Records notifications instead of showing them; permission as if granted
  await bo.addInitScript(() => {
    const shown: string[] = [];
    Object.assign(globalThis, { __shown: shown });
    class FakeNotification {
      static permission = "default";
      static requestPermission() {
        FakeNotification.permission = "granted";
        return Promise.resolve("granted");
      }
      constructor(title: string) {
        shown.push(title);
      }
    }
    Object.defineProperty(globalThis, "Notification", {
      value: FakeNotification,
      configurable: true,
    });
  });
  await login(bo, origin, "bo");
  const cy = await server.join("<b onclick=x>cy</b>");
  await ann.locator("#online-count", { hasText: "3 online" }).waitFor();

  // Typing @ offers the online nicknames but one's own; keys choose
  await ann.fill("#message-input", "");
  await ann.type("#message-input", "hi @");
  const list = ann.locator("#mention-list");
  await list.waitFor();
  assert.equal(
    await ann.getAttribute("#message-input", "aria-expanded"),
    "true",
  );
  const offered = await list.locator("[role=option]").allTextContents();
  assert.deepEqual(
    offered.toSorted(),
    ["<b onclick=x>cy</b>", "bo"].toSorted(),
  );
  assert.equal(await list.locator("b").count(), 0);
  await ann.keyboard.press("Escape");
  assert.ok(await list.isHidden());
  await ann.type("#message-input", "b");
  await list.locator("[role=option]", { hasText: "bo" }).waitFor();
  assert.equal(await list.locator("[role=option]").count(), 1);
  await ann.keyboard.press("Tab");
  assert.equal(await ann.inputValue("#message-input"), "hi @bo ");
  await ann.keyboard.press("Enter");
  await seeMessage(bo, "hi @bo");
  await bo.locator(".msg.mentioned .mention-me", { hasText: "@bo" }).waitFor();
  // On ann's side it is a mention, not of her
  await ann.locator(".msg .mention:not(.mention-me)", { hasText: "@bo" })
    .waitFor();

  // bo opts in with a click; then, tab hidden, a mention notifies and counts
  const toggle = bo.locator("#notify-toggle");
  await toggle.click();
  await bo.locator("#notify-toggle[aria-pressed=true]").waitFor();
  await setHidden(bo, true);
  await send(ann, "@bo look at this");
  await seeMessage(bo, "look at this");
  assert.equal(await bo.title(), "(@1) (1) 大厅 · 聊天室");
  assert.deepEqual(
    await bo.evaluate(() =>
      (globalThis as unknown as { __shown: unknown }).__shown
    ),
    [
      "ann 在 lobby 提及了你",
    ],
  );
  // A message that only names someone else does not
  cy.send({ type: "message", text: "@ann hello" });
  await seeMessage(bo, "@ann hello");
  assert.equal(await bo.title(), "(@1) (2) 大厅 · 聊天室");
  await shot(bo, "chat-mentions-zh-CN.png");
  await cy.close();
});

browserTest("rooms list counts unread per visited room", async (scene) => {
  const { ann, origin } = await annIn(scene);
  const bo = await scene.page("bo", { locale: "zh-CN", ...PHONE });
  await login(bo, origin, "bo");
  await send(ann, "before bo leaves");
  await seeMessage(bo, "before bo leaves");
  // bo goes to another room; the lobby's last read id is kept
  await bo.goto(`${origin}/chat/dev`);
  await connected(bo);
  await send(ann, "while bo was away");
  await send(ann, "@bo are you there?");
  await seeMessage(ann, "are you there?");
  await bo.reload();
  await connected(bo);
  await bo.click("#panel-toggle");
  const lobby = bo.locator(".room-link[href='/chat']");
  await lobby.locator(".room-unread", { hasText: "2 条未读" }).waitFor();
  await lobby.locator(".room-mentions", { hasText: "1 @" }).waitFor();
  await shot(bo, "chat-unread-phone-zh-CN.png");
  // Back in the lobby, a line shows where the new messages begin
  await Promise.all([bo.waitForURL(`${origin}/chat`), lobby.click()]);
  await connected(bo);
  const order = await bo.$$eval(
    "#messages > .msg .msg-text, #messages > .unread-divider",
    (els) => els.map((e) => e.textContent),
  );
  assert.deepEqual(order, [
    "before bo leaves",
    "你离开后的新消息",
    "while bo was away",
    "@bo are you there?",
  ]);
});
