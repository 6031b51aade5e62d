/**
 * End-to-end: grouping, date separators, edits, deletions, reactions and
 * replies in headless Chromium, between ann (English, desktop) and bo
 * (Chinese, on a phone), with a bot for the third person.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  annIn,
  browserTest,
  login,
  noHorizontalScroll,
  PHONE,
  seeMessage,
  send,
  shot,
} from "./helpers/browser.ts";

browserTest(
  "messages group, change, take reactions and replies",
  async (scene) => {
    const { server, ann, origin } = await annIn(scene);
    const bo = await scene.page("bo", { locale: "zh-CN", ...PHONE });
    await login(bo, origin, "bo");
    const cy = await server.join("cy");

    // Three in a row from ann share one header; cy's breaks the group
    await send(ann, "first of three");
    await send(ann, "second of three");
    await send(ann, "third of three");
    await seeMessage(bo, "third of three");
    cy.send({ type: "message", text: "cy says <b>hi</b> @bo" });
    await seeMessage(bo, "cy says");
    const grouped = await bo.$$eval(
      "#messages .msg",
      (els) => els.map((e) => e.classList.contains("grouped")),
    );
    assert.deepEqual(grouped, [false, true, true, false]);
    // One date separator, "today", in the page's language
    assert.deepEqual(
      await bo.$$eval(
        "#messages .day-sep",
        (els) => els.map((e) => e.textContent),
      ),
      ["今天"],
    );
    // Markup in text stays text; a mention of me is highlighted
    assert.equal(await bo.locator("#messages b").count(), 0);
    await bo.locator(".msg.mentioned .mention-me", { hasText: "@bo" })
      .waitFor();

    // ann edits her second message from its toolbar (keyboard only)
    const second = ann.locator(".msg", { hasText: "second of three" });
    await second.hover();
    await second.locator(".msg-action[data-action=edit]").click();
    await ann.locator("#compose-context", { hasText: "Editing" }).waitFor();
    await ann.fill("#message-input", "second, edited");
    await ann.press("#message-input", "Enter");
    await bo.locator(".msg", { hasText: "second, edited" })
      .locator(".msg-edited", { hasText: "已编辑" }).waitFor();
    // Up in the empty box edits her last message
    await ann.press("#message-input", "ArrowUp");
    assert.equal(await ann.inputValue("#message-input"), "third of three");
    await ann.press("#message-input", "Escape");
    assert.equal(await ann.inputValue("#message-input"), "");
    // bo has no Edit or Delete on ann's message
    const boFirst = bo.locator(".msg", { hasText: "first of three" });
    await boFirst.hover();
    assert.ok(
      await boFirst.locator(".msg-action[data-action=edit]").isHidden(),
    );
    assert.ok(
      await boFirst.locator(".msg-action[data-action=delete]").isHidden(),
    );

    // bo reacts from the palette, cy with a typed emoji over the socket
    await boFirst.locator(".msg-action[data-action=react]").click();
    await boFirst.locator(".picker-emoji[data-emoji='👍']").click();
    const annFirst = ann.locator(".msg", { hasText: "first of three" });
    await annFirst.locator(".reaction[data-emoji='👍']", { hasText: "1" })
      .waitFor();
    const firstId = Number(await annFirst.getAttribute("data-id"));
    cy.send({ type: "react", target: firstId, emoji: "👍" });
    const thumbs = annFirst.locator(".reaction[data-emoji='👍']");
    await thumbs.locator(".reaction-count", { hasText: "2" }).waitFor();
    assert.equal(await thumbs.getAttribute("title"), "bo, cy reacted with 👍");
    assert.equal(await thumbs.getAttribute("aria-pressed"), "false");
    // ann toggles it on and off again
    await thumbs.click();
    await thumbs.locator(".reaction-count", { hasText: "3" }).waitFor();
    assert.equal(await thumbs.getAttribute("aria-pressed"), "true");
    await thumbs.click();
    await thumbs.locator(".reaction-count", { hasText: "2" }).waitFor();
    // A typed reaction that is not one emoji is refused on the page
    await boFirst.hover();
    await boFirst.locator(".msg-action[data-action=react]").click();
    await bo.fill(".picker-input", "<img src=x>");
    await bo.press(".picker-input", "Enter");
    await bo.locator(".reaction-picker .field-error", { hasText: "表情" })
      .waitFor();
    await bo.fill(".picker-input", "🦀");
    await bo.press(".picker-input", "Enter");
    await annFirst.locator(".reaction[data-emoji='🦀']").waitFor();

    // bo replies to ann's first; ann's quote leads back to it
    await boFirst.hover();
    await boFirst.locator(".msg-action[data-action=reply]").click();
    await bo.locator("#compose-context", { hasText: "回复 ann" }).waitFor();
    await send(bo, "a reply from bo");
    const reply = ann.locator(".msg", { hasText: "a reply from bo" });
    await reply.locator(".msg-quote", { hasText: "first of three" }).waitFor();
    await reply.locator(".msg-quote").click();
    await ann.locator(".msg.flash", { hasText: "first of three" }).waitFor();

    // ann deletes her third message (two presses), with the keyboard
    await ann.focus("#messages");
    const third = ann.locator(".msg", { hasText: "third of three" });
    await third.hover();
    const del = third.locator(".msg-action[data-action=delete]");
    await del.focus();
    await ann.keyboard.press("Enter");
    await third.locator(".msg-action.confirm").waitFor();
    await ann.keyboard.press("Enter");
    await bo.locator(".msg.deleted .msg-gone", { hasText: "消息已删除" })
      .waitFor();
    await ann.locator(".msg.deleted .msg-gone", { hasText: "Message deleted" })
      .waitFor();
    // cy cannot delete ann's message: the server says so only to cy
    cy.send({ type: "delete", target: firstId });
    await ann.waitForTimeout(200);
    assert.equal(await ann.locator(".msg.deleted").count(), 1);

    // A newcomer sees the latest state: edited, deleted, reactions, quote
    const dee = await scene.page("dee");
    await login(dee, origin, "dee");
    await dee.locator(".msg .msg-edited").waitFor();
    assert.equal(await dee.locator(".msg.deleted").count(), 1);
    assert.equal(await dee.locator(".reaction").count(), 2);
    assert.equal(await dee.locator(".msg-quote").count(), 1);
    await noHorizontalScroll(bo);
    await noHorizontalScroll(ann);
    await ann.setViewportSize({ width: 1280, height: 800 });
    await bo.locator(".msg", { hasText: "a reply from bo" })
      .scrollIntoViewIfNeeded();
    await shot(ann, "chat-changes-en.png");
    await shot(bo, "chat-changes-phone-zh-CN.png");
    await cy.close();
  },
);

browserTest(
  "a page left open past midnight relabels Today as Yesterday",
  async (scene) => {
    const { origin } = await scene.serve();
    const ann = await scene.page("ann", { timezoneId: "UTC" });
    // The page's clock stands two seconds before tonight's midnight (UTC);
    // timers still run, so the page works as usual meanwhile
    const midnight = new Date();
    midnight.setUTCHours(24, 0, 0, 0);
    await ann.clock.setFixedTime(midnight.getTime() - 2000);
    await login(ann, origin, "ann");
    await send(ann, "late at night");
    await seeMessage(ann, "late at night");
    const separator = ann.locator(".day-sep").last();
    assert.equal(await separator.textContent(), "Today");
    await ann.clock.setFixedTime(midnight.getTime() + 5000);
    await ann.locator(".day-sep", { hasText: "Yesterday" }).waitFor();
    assert.equal(
      await ann.locator(".day-sep", { hasText: "Today" }).count(),
      0,
    );
  },
);
