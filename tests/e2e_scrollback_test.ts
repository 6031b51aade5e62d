/**
 * End-to-end: scrollback in headless Chromium. Reaching the top loads
 * older pages, keeping the reader's place, up to the marked start; a
 * reply's original that is not loaded is loaded when its quote is used.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  browserTest,
  login,
  messageTexts,
  PHONE,
  seeMessage,
} from "./helpers/browser.ts";
import { HIGH_RATE } from "./helpers/harness.ts";

browserTest("scrollback loads older pages to the start", async (scene) => {
  const server = await scene.serve({ ...HIGH_RATE, HISTORY_ON_JOIN: "10" });
  const bot = await server.join("bot");
  for (let i = 1; i <= 130; i++) {
    bot.send({ type: "message", text: `old ${i}`, cid: `o${i}` });
  }
  const first = await bot.waitForText("old 1");
  await bot.waitForText("old 130");
  bot.send({
    type: "message",
    text: "answering the very first",
    replyTo: (first as { id: number }).id,
  });
  await bot.waitForText("answering the very first");

  // bo on a phone, in Chinese, scrolls to the top until the start
  const bo = await scene.page("bo", { locale: "zh-CN", ...PHONE });
  await login(bo, server.origin, "bo");
  await seeMessage(bo, "answering the very first");
  const start = bo.locator(".history-start");
  for (let i = 0; i < 10 && await start.count() === 0; i++) {
    // The message at the top stays where it was as older ones go above it
    const top = bo.locator("#messages .msg").first();
    const text = await top.locator(".msg-text").textContent();
    await bo.$eval("#messages", (el) => (el.scrollTop = 0));
    await bo.waitForFunction(
      (t) =>
        document.querySelector("#messages .msg .msg-text")?.textContent !== t,
      text,
    ).catch(() => {});
    if (await start.count() > 0) break;
    const kept = await bo.locator(".msg", { hasText: text ?? "" }).first()
      .evaluate((el) => {
        const log = document.getElementById("messages")!;
        return el.getBoundingClientRect().top - log.getBoundingClientRect().top;
      });
    assert.ok(kept > 0, `the old top message is still below the new ones`);
  }
  await start.waitFor();
  assert.equal(await start.textContent(), "这是房间记录的开头");
  const texts = await messageTexts(bo);
  assert.deepEqual(texts, [
    ...Array.from({ length: 130 }, (_, i) => `old ${i + 1}`),
    "answering the very first",
  ]);

  // ann, fresh, uses the quote: the original is loaded and shown
  const ann = await scene.page("ann", {
    viewport: { width: 1280, height: 800 },
  });
  await login(ann, server.origin, "ann");
  const quote = ann.locator(".msg-quote", { hasText: "old 1" });
  await quote.click();
  const original = ann.locator(".msg.flash", { hasText: /^bot.*old 1$/ });
  await original.waitFor();
  assert.ok(await original.isVisible());
  await bot.close();
});
