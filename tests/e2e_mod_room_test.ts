/**
 * End-to-end: the room side of moderation in headless Chromium. A
 * moderator sets the topic, slow mode and the lock from the side panel and
 * reads the audit page; a Chinese reader sees the rules and the message box
 * turned off while locked; a muted reader on a phone is told until when.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  browserTest,
  login,
  noHorizontalScroll,
  PHONE,
  seeMessage,
  send,
  shot,
} from "./helpers/browser.ts";
import {
  joinAsModerator,
  MOD_ENV,
  moderate,
  moderatorPage,
} from "./helpers/moderation.ts";

browserTest(
  "a moderator sets topic, slow mode and lock from the panel; a Chinese reader sees them, and the audit page lists them newest first",
  async (scene) => {
    const { origin } = await scene.serve(MOD_ENV);
    const alice = await scene.page("alice");
    // The form answers 401 until the password is given
    scene.watcher.allowed.push(/status of 401/);
    await moderatorPage(alice, origin);
    const bo = await scene.page("bo", { locale: "zh-CN" });
    await login(bo, origin, "bo");

    const panel = alice.locator("#mod-section");
    await panel.waitFor();
    assert.equal(await bo.locator("#mod-section").isVisible(), false);
    assert.equal(await bo.locator("#room-topic").isVisible(), false);
    assert.equal(await bo.locator("#room-rules").isVisible(), false);

    await alice.fill("#mod-topic", "Be kind 友善");
    await alice.click("#mod-topic-form button[type=submit]");
    await alice.locator("#mod-status.mod-status-ok", { hasText: "Topic set" })
      .waitFor();
    await bo.locator("#room-topic", { hasText: "Be kind 友善" }).waitFor();

    await alice.selectOption("#mod-slow", "30");
    await alice.locator("#mod-status", {
      hasText: "Slow mode on: one message every 30 s",
    }).waitFor();
    await bo.locator("#room-rules", {
      hasText: "慢速模式：每 30 秒只能发一条消息",
    })
      .waitFor();

    await alice.click("#mod-lock");
    await alice.locator("#mod-lock", { hasText: "Unlock the room" }).waitFor();
    await bo.locator("#room-rules.room-rules-blocked", { hasText: "已锁定" })
      .waitFor();
    assert.equal(await bo.isDisabled("#message-input"), true);
    assert.equal(await bo.isDisabled("#send-button"), true);
    assert.equal(
      await bo.getAttribute("#message-input", "placeholder"),
      "此房间已锁定：只有管理员可以发言",
    );
    // The moderator still posts in a locked room
    assert.equal(await alice.isDisabled("#message-input"), false);
    await send(alice, "locked for a moment");
    await seeMessage(bo, "locked for a moment");
    await shot(alice, "moderator-panel-en.png");
    await shot(bo, "room-locked-zh-CN.png");

    await alice.click("#mod-lock");
    await alice.locator("#mod-status", { hasText: "Room unlocked" }).waitFor();
    await bo.locator("#message-input:not([disabled])").waitFor();
    assert.equal(await bo.isDisabled("#send-button"), false);
    assert.doesNotMatch(
      (await bo.textContent("#room-rules")) ?? "",
      /已锁定/,
    );
    await send(bo, "谢谢");
    await seeMessage(alice, "谢谢");

    await Promise.all([
      alice.waitForURL(`${origin}/audit`),
      alice.click("#mod-audit-link"),
    ]);
    const actions = await alice.$$eval(
      "#audit-table tbody tr td:nth-child(3)",
      (cells) => cells.map((c) => c.firstChild?.textContent ?? ""),
    );
    assert.deepEqual(actions, ["Unlock", "Lock", "Slow mode", "Topic"]);
    assert.match(
      (await alice.textContent("#audit-table tbody")) ?? "",
      /Be kind 友善/,
    );
    await shot(alice, "audit-en.png");
  },
);

browserTest(
  "a muted reader on a phone is told until when and posts again once unmuted; a long topic wraps",
  async (scene) => {
    const server = await scene.serve(MOD_ENV);
    const mod = await joinAsModerator(server);
    const ann = await scene.page("ann", PHONE);
    await login(ann, server.origin, "ann");
    const long = "Read the rules before posting, please. ".repeat(5).trim();
    await moderate(mod, { action: "topic", text: long });
    const topic = ann.locator("#room-topic");
    await topic.waitFor();
    assert.equal(await topic.textContent(), long);
    // Clamped to two lines under the name, never wider than the phone
    const box = (await topic.boundingBox())!;
    assert.ok(box.width <= 375 && box.height < 48, JSON.stringify(box));
    await noHorizontalScroll(ann);

    await moderate(mod, { action: "mute", nickname: "ann", duration: "10m" });
    await ann.locator("#room-rules", { hasText: /^You are muted until / })
      .waitFor();
    assert.equal(await ann.isDisabled("#message-input"), true);
    assert.match(
      (await ann.getAttribute("#message-input", "placeholder")) ?? "",
      /^A moderator has muted you until \d{1,2}:\d{2}/,
    );
    await moderate(mod, { action: "unmute", nickname: "ann" });
    await ann.locator("#message-input:not([disabled])").waitFor();
    assert.equal(await ann.locator("#room-rules").isVisible(), false);
    assert.equal(
      await ann.getAttribute("#message-input", "placeholder"),
      "Write a message",
    );
    await send(ann, "thanks");
    await mod.waitForText("thanks");
    // Nothing of the moderators' panel for a reader, even in the drawer
    await ann.click("#panel-toggle");
    await ann.locator("#room-form").waitFor();
    assert.equal(await ann.locator("#mod-section").isVisible(), false);
  },
);
