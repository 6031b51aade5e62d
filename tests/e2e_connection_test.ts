/**
 * End-to-end: the page's connection in headless Chromium: reconnecting
 * after a restart, going offline and back, and a session the server no
 * longer accepts.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  annAndBo,
  annIn,
  browserTest,
  connected,
  login,
  messageTexts,
  seeMessage,
  send,
  users,
} from "./helpers/browser.ts";
import { HIGH_RATE } from "./helpers/harness.ts";

browserTest("chat page reconnects by itself after a restart", async (scene) => {
  // History in a file, so the restarted server still has it
  const env = { ...HIGH_RATE, KV_PATH: `${await scene.tempDir()}/chat.db` };
  const first = await scene.serve(env);
  const { ann, bo } = await annAndBo(scene, first);
  await send(ann, "ann before restart");
  await send(bo, "bo before restart");
  await seeMessage(ann, "bo before restart");
  assert.deepEqual(await users(ann), ["ann", "bo"], "bo is logged in too");
  const seenBefore = await messageTexts(ann);
  // Reconnect attempts while the port is closed fail loudly in the
  // console, and so does the page's check of its session after each;
  // that is expected only here
  scene.watcher.allowed.push(
    /WebSocket connection to .* failed|ERR_CONNECTION_REFUSED/,
  );
  await first.close();
  await ann.locator("#conn-badge.badge-reconnecting").waitFor();
  // Written while the server is down: kept and sent after reconnecting
  await send(ann, "sent while down");
  await ann.locator(".msg.pending", { hasText: "sent while down" }).waitFor();
  await scene.serve(env, { port: first.port });
  await connected(ann);
  await connected(bo);
  scene.watcher.allowed.pop();
  await seeMessage(bo, "sent while down");
  await seeMessage(ann, "sent while down");
  await send(bo, "after restart");
  await seeMessage(ann, "after restart");
  await send(ann, "ann after restart");
  await seeMessage(bo, "ann after restart");

  // Nothing shown twice, nothing lost
  const after = await messageTexts(ann);
  assert.deepEqual(after.slice(0, seenBefore.length), seenBefore);
  assert.equal(new Set(after).size, after.length, after.join(" | "));
  assert.equal(after.filter((m) => m === "sent while down").length, 1);
  assert.equal(await ann.locator(".msg.pending").count(), 0);
});

browserTest(
  "composer is off while offline and comes back with focus",
  async (scene) => {
    const { ann } = await annIn(scene);
    const context = ann.context();
    scene.watcher.allowed.push(
      /ERR_INTERNET_DISCONNECTED|WebSocket connection/,
    );
    await ann.focus("#message-input");
    await context.setOffline(true);
    await ann.locator("#conn-badge.badge-offline", { hasText: "Offline" })
      .waitFor();
    assert.ok(await ann.isDisabled("#message-input"));
    assert.ok(await ann.isDisabled("#send-button"));
    await context.setOffline(false);
    await connected(ann);
    scene.watcher.allowed.pop();
    assert.ok(await ann.isEnabled("#message-input"));
    assert.equal(
      await ann.evaluate(() => document.activeElement?.id),
      "message-input",
      "focus comes back to the input",
    );
    await send(ann, "back online");
    await seeMessage(ann, "back online");
  },
);

browserTest(
  "chat page sends a session the server no longer accepts to login",
  async (scene) => {
    // A restart with a new secret (and no old one to verify with)
    // invalidates every cookie: the upgrade gets 401.
    const first = await scene.serve();
    const page = await scene.page("gone");
    scene.watcher.allowed.push(
      /WebSocket connection|status of 401|ERR_CONNECTION_REFUSED/,
    );
    await login(page, first.origin, "gone");
    await connected(page);
    await first.close();
    const other = await scene.serve(
      { COOKIE_SECRET: "a-brand-new-secret-0123456789-abcdefgh" },
      { port: first.port },
    );
    await page.waitForURL(`${other.origin}/login`, { timeout: 15_000 });
    await page.locator("input[name=nickname]").waitFor();
    scene.watcher.allowed.pop();
  },
);
