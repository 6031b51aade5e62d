/**
 * End-to-end: moderation as people see it in headless Chromium. A
 * moderator logs in through the form's password field; a muted user reads
 * why in Chinese, a kicked one in English, and neither page reconnects by
 * itself after a kick or a ban.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  browserTest,
  connected,
  login,
  seeMessage,
} from "./helpers/browser.ts";
import {
  joinAsModerator,
  MOD_ENV,
  MOD_NAME,
  MOD_PASSWORD,
  moderate,
} from "./helpers/moderation.ts";

browserTest(
  "a moderator's name asks for the password in the form, and the password logs in",
  async (scene) => {
    const { origin } = await scene.serve(MOD_ENV);
    const page = await scene.page("alice");
    scene.watcher.allowed.push(/status of 401/);
    await page.goto(`${origin}/login`);
    assert.equal(await page.locator("#password").count(), 0);
    await page.fill("#nickname", MOD_NAME);
    await Promise.all([
      page.waitForResponse((r) => r.url() === `${origin}/login`),
      page.click(".login-form button[type=submit]"),
    ]);
    assert.match(
      (await page.textContent("[role=alert]")) ?? "",
      /belongs to a moderator/,
    );
    assert.equal(await page.inputValue("#nickname"), MOD_NAME);
    await page.fill("#password", MOD_PASSWORD);
    await Promise.all([
      page.waitForURL(`${origin}/chat`),
      page.click(".login-form button[type=submit]"),
    ]);
    await connected(page);
    assert.ok(!(await page.content()).includes(MOD_PASSWORD));
  },
);

browserTest(
  "a muted user reads why in Chinese; a kicked one in English, and the page stays away",
  async (scene) => {
    const server = await scene.serve(MOD_ENV);
    const { origin } = server;
    const mod = await joinAsModerator(server);
    const bo = await scene.page("bo", { locale: "zh-CN" });
    await login(bo, origin, "bo");
    await moderate(mod, { action: "mute", nickname: "bo", duration: "10m" });
    // The page says why and keeps the box shut; the server refuses anyway
    // (tests/moderation_test.ts)
    await bo.locator("#room-rules", { hasText: "你已被禁言" }).waitFor();
    assert.equal(await bo.isDisabled("#message-input"), true);
    await moderate(mod, { action: "unmute", nickname: "bo" });

    const ann = await scene.page("ann");
    await login(ann, origin, "ann");
    mod.send({ type: "message", text: "welcome ann" });
    await seeMessage(ann, "welcome ann");
    await moderate(mod, { action: "kick", nickname: "ann", reason: "spam" });
    await ann.locator(".notice-error", {
      hasText: "A moderator removed you from this room",
    }).waitFor();
    // Past the first reconnect delay, it has not come back.
    await ann.waitForTimeout(1500);
    assert.ok(!server.chat.hub.users("lobby").includes("ann"));
    assert.equal(await ann.locator("#conn-badge.badge-connected").count(), 0);

    await moderate(mod, { action: "ban", nickname: "bo", duration: "1h" });
    await bo.locator(".notice-error", { hasText: "管理员已将你封禁" })
      .waitFor();
  },
);
