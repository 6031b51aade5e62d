/**
 * End-to-end: the people side of moderation in headless Chromium. Alice,
 * the moderator, logs in with her password; ann (English) and bo (Chinese)
 * see her badge. Only her page offers Kick, Mute and Ban, through a dialog
 * that names what it will do; she deletes bo's message, mutes and kicks bo,
 * and bans ann, who read why. Anyone may ignore someone: their messages
 * collapse, their typing goes unseen, and Undo or Stop ignoring brings
 * them back, even on a page whose stored list was garbage.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import {
  browserTest,
  countIs,
  login,
  messageTexts,
  seeMessage,
  send,
  setHidden,
  shot,
} from "./helpers/browser.ts";
import { MOD_ENV, MOD_NAME, moderatorPage } from "./helpers/moderation.ts";

/** The data-action of each item in the open user menu */
function menuItems(page: Page): Promise<string[]> {
  return page.$$eval(
    "#user-menu .user-menu-item",
    (els) => els.map((e) => (e as HTMLElement).dataset.action ?? ""),
  );
}

/** The nickname of the user-list entry holding the focus, if any */
function focusedUser(page: Page): Promise<string | undefined> {
  return page.evaluate(() =>
    (document.activeElement?.closest("#user-list li") as HTMLElement | null)
      ?.dataset.nickname
  );
}

/** Opens `nickname`'s menu in the user list and then one of its items */
async function menuAction(page: Page, nickname: string, action: string) {
  await page.click(`#user-list li[data-nickname="${nickname}"] .user-button`);
  await page.click(`#user-menu .user-menu-item[data-action="${action}"]`);
}

browserTest(
  "a moderator sees badges and moderates through the menu and dialog; others see badges only",
  async (scene) => {
    const server = await scene.serve(MOD_ENV);
    const { origin } = server;
    scene.watcher.allowed.push(/status of 401/);
    const alice = await scene.page("alice");
    await moderatorPage(alice, origin);
    const bo = await scene.page("bo", { locale: "zh-CN" });
    await login(bo, origin, "bo");
    const ann = await scene.page("ann");
    await login(ann, origin, "ann");

    // Everyone sees Alice's badge, in the list and on her messages
    await send(alice, "Please be kind");
    await seeMessage(ann, "Please be kind");
    const annAlice = ann.locator(`#user-list li[data-nickname="${MOD_NAME}"]`);
    assert.equal(await annAlice.locator(".mod-badge").textContent(), "Mod");
    assert.equal(
      await annAlice.locator(".mod-badge").getAttribute("aria-label"),
      "Moderator",
    );
    await ann.locator(".msg", { hasText: "Please be kind" })
      .locator(".msg-head .mod-badge").waitFor();
    await bo.locator(`#user-list li[data-nickname="${MOD_NAME}"] .mod-badge`, {
      hasText: "管理员",
    }).waitFor();
    // Nobody acts on a moderator: her name opens no menu, not even Ignore
    assert.equal(await annAlice.locator(".user-button").count(), 0);
    assert.equal(
      await ann.locator('#user-list li[data-nickname="bo"] .mod-badge').count(),
      0,
    );

    // ann's menu for bo offers Ignore alone; Escape gives the focus back
    await ann.click('#user-list li[data-nickname="bo"] .user-button');
    assert.deepEqual(await menuItems(ann), ["ignore"]);
    await ann.keyboard.press("Escape");
    await countIs(ann.locator("#user-menu"), 0);
    assert.equal(await focusedUser(ann), "bo");

    // Alice's, opened from the keyboard, has the moderation items
    await alice.focus('#user-list li[data-nickname="bo"] .user-button');
    await alice.keyboard.press("Enter");
    assert.deepEqual(await menuItems(alice), [
      "ignore",
      "kick",
      "mute",
      "unmute",
      "ban",
      "unban",
    ]);
    await alice.keyboard.press("ArrowDown");
    assert.equal(
      await alice.evaluate(() =>
        (document.activeElement as HTMLElement).dataset.action
      ),
      "kick",
    );
    await alice.keyboard.press("Escape");
    assert.equal(await focusedUser(alice), "bo");

    // She deletes bo's message with two presses; everyone sees the tombstone
    await send(bo, "delete me please");
    await seeMessage(alice, "delete me please");
    const boMessage = alice.locator(".msg", { hasText: "delete me please" });
    await boMessage.hover();
    await boMessage.locator(".msg-action[data-action=delete]").click();
    await boMessage.locator(".msg-action[data-action=delete]").click();
    await ann.locator(".msg.deleted", {
      hasText: "Message removed by a moderator",
    }).waitFor();
    await bo.locator(".msg.deleted", { hasText: "消息已被管理员删除" })
      .waitFor();

    // Kick asks first; Escape leaves bo be and the focus on his name
    await menuAction(alice, "bo", "kick");
    await alice.locator("#mod-dialog[open]").waitFor();
    assert.equal(await alice.textContent("#mod-confirm"), "Kick bo");
    assert.ok(await alice.locator("#mod-duration").isHidden());
    await alice.keyboard.press("Escape");
    await countIs(alice.locator("#mod-dialog[open]"), 0);
    assert.equal(await focusedUser(alice), "bo");

    // Mute for an hour through the dialog; bo (in Chinese) reads why
    await menuAction(alice, "bo", "mute");
    assert.equal(await alice.textContent("#mod-dialog-title"), "Mute bo");
    assert.ok(await alice.locator("#mod-address-row").isHidden());
    await alice.check("#mod-duration input[value='1h']");
    assert.equal(await alice.textContent("#mod-confirm"), "Mute bo for 1 hour");
    await alice.fill("#mod-reason", "cool off");
    await shot(alice, "moderator-mute-dialog-en.png");
    await alice.click("#mod-confirm");
    await alice.locator(".notice", { hasText: /^bo is muted until \S/ })
      .waitFor();
    assert.equal(await focusedUser(alice), "bo");
    await bo.locator("#room-rules", { hasText: "你已被禁言" }).waitFor();
    assert.equal(await bo.isDisabled("#message-input"), true);
    await shot(bo, "muted-zh-CN.png");
    // Unmute; a second one has nothing to undo, and says so
    await menuAction(alice, "bo", "unmute");
    await alice.locator(".notice", { hasText: "bo can post again" }).waitFor();
    await bo.locator("#message-input:enabled").waitFor();
    await menuAction(alice, "bo", "unmute");
    await alice.locator(".notice-error", { hasText: "bo is not muted" })
      .waitFor();

    // Ban ann for a day (not her address: everyone here shares 127.0.0.1)
    await menuAction(alice, "ann", "ban");
    assert.ok(await alice.locator("#mod-address-row").isVisible());
    await alice.check("#mod-duration input[value='1d']");
    assert.equal(await alice.textContent("#mod-confirm"), "Ban ann for 1 day");
    await alice.click("#mod-confirm");
    await ann.locator(".notice-error", {
      hasText: "A moderator has banned you from this chat",
    }).waitFor();
    const banned = alice.locator(".notice", {
      hasText: /^ann was banned until \S/,
    });
    await countIs(alice.locator('#user-list li[data-nickname="ann"]'), 0);
    // She is gone from the list: the notice's Undo lifts the ban
    await banned.locator(".notice-action", { hasText: "Undo" }).click();
    await alice.locator(".notice", { hasText: "ann is no longer banned" })
      .waitFor();

    // And kick bo for real
    await menuAction(alice, "bo", "kick");
    await alice.click("#mod-confirm");
    await bo.locator(".notice-error", { hasText: "管理员已将你移出此聊天室" })
      .waitFor();
    await alice.locator(".notice", { hasText: "bo was kicked from this room" })
      .waitFor();
  },
);

browserTest(
  "ignoring hides a person's messages and typing until undone, even over a garbage stored list",
  async (scene) => {
    const server = await scene.serve();
    const { origin } = server;
    const ann = await scene.page("ann");
    // A stored list far too big to be one: read as empty, the page still chats
    await ann.goto(`${origin}/login`);
    await ann.evaluate(() =>
      localStorage.setItem("chat.ignored", `["${"x".repeat(1_000_000)}"`)
    );
    await login(ann, origin, "ann");
    await send(ann, "hello room");
    await seeMessage(ann, "hello room");
    const cy = await server.join("cy");
    const dee = await server.join("dee");
    cy.send({ type: "message", text: "cy one" });
    await seeMessage(ann, "cy one");

    await menuAction(ann, "cy", "ignore");
    const undo = ann.locator(".notice", { hasText: "You are ignoring cy" })
      .locator(".notice-action", { hasText: "Undo" });
    await undo.waitFor();
    await ann.locator(".msg.ignored", {
      hasText: "Message from an ignored person",
    }).waitFor();
    // With the tab hidden, only dee's message counts in the title
    await setHidden(ann, true);
    cy.send({ type: "message", text: "cy two" });
    dee.send({ type: "message", text: "dee speaks" });
    await seeMessage(ann, "dee speaks");
    await countIs(ann.locator(".msg.ignored"), 2);
    assert.match(await ann.title(), /^\(1\) /);
    await setHidden(ann, false);
    assert.ok(!(await messageTexts(ann)).some((t) => t.includes("cy ")));
    // cy's typing goes unseen; dee's, sent after it, shows alone
    cy.send({ type: "typing" });
    await new Promise((r) => setTimeout(r, 100));
    dee.send({ type: "typing" });
    await ann.locator("#typing", { hasText: "dee is typing" }).waitFor();
    assert.equal(await ann.textContent("#typing"), "dee is typing…");

    // Show opens one message; Undo brings them all back
    await ann.locator(".msg.ignored").first().locator(".msg-show").click();
    await seeMessage(ann, "cy one");
    await countIs(ann.locator(".msg.ignored"), 1);
    await undo.click();
    await seeMessage(ann, "cy two");
    await countIs(ann.locator(".msg.ignored"), 0);

    // Ignored again, it holds across a reload, until Stop ignoring
    await menuAction(ann, "cy", "ignore");
    await countIs(ann.locator(".msg.ignored"), 2);
    assert.deepEqual(
      await ann.evaluate(() => localStorage.getItem("chat.ignored")),
      '["cy"]',
    );
    await ann.reload();
    await ann.locator("#conn-badge.badge-connected").waitFor();
    await seeMessage(ann, "dee speaks");
    await countIs(ann.locator(".msg.ignored"), 2);
    await menuAction(ann, "cy", "unignore");
    await ann.locator(".notice", { hasText: "You are no longer ignoring cy" })
      .waitFor();
    await seeMessage(ann, "cy two");
    await countIs(ann.locator(".msg.ignored"), 0);
  },
);
