/**
 * End-to-end: the pages themselves in headless Chromium: login, language,
 * markup kept as text, the keyboard, a phone's screen, and the
 * screenshots in docs/screenshots/ (SCREENSHOTS=1).
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  annAndBo,
  annIn,
  browserTest,
  connected,
  focusedId,
  login,
  noHorizontalScroll,
  PHONE,
  SCREENSHOTS,
  seeMessage,
  send,
  shot,
  users,
} from "./helpers/browser.ts";

const XSS = "<img src=x onerror=alert(1)>";
// The full payload is longer than a nickname may be; this one fits
const XSS_NICK = "<svg/onload=alert(1)>";

browserTest(
  "login page renders in English and Chinese under the CSP",
  async (scene) => {
    const { origin } = await scene.serve();
    const ann = await scene.page("ann", { locale: "en-US" });
    const bo = await scene.page("bo", { locale: "zh-CN" });
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
    const { problems } = scene.watcher;
    assert.equal(problems.length, 1, problems.join("\n"));
    assert.match(problems[0], /Content Security Policy/);
    problems.length = 0;

    await bo.goto(`${origin}/login`);
    assert.equal(await bo.getAttribute("html", "lang"), "zh-CN");
    assert.equal((await bo.textContent("label[for=nickname]"))?.trim(), "昵称");
    assert.equal(
      (await bo.textContent(".login-form button"))?.trim(),
      "进入聊天",
    );
    // Emoji have fonts to fall back to where the system default has none
    const fonts = await bo.evaluate(() =>
      getComputedStyle(document.body).fontFamily
    );
    for (const emoji of ["Apple Color Emoji", "Noto Color Emoji"]) {
      assert.ok(fonts.includes(`"${emoji}"`), fonts);
    }
  },
);

browserTest("login page shows the hint for a taken nickname", async (scene) => {
  const server = await scene.serve();
  const origin = server.origin;
  await server.join("ann");
  const other = await scene.page("other");
  scene.watcher.allowed.push(/status of 409/);
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
  assert.equal(await focusedId(other), "nickname");
  scene.watcher.allowed.pop();
});

browserTest(
  "chat page keeps markup in messages and nicknames as text",
  async (scene) => {
    const { server, ann, bo } = await annAndBo(scene);
    const origin = server.origin;
    await send(ann, XSS);
    await seeMessage(bo, XSS);

    // Too long as a nickname: the hint shows and the value is kept as text
    const eve = await scene.page("eve");
    scene.watcher.allowed.push(/status of 400/);
    await eve.goto(`${origin}/login`);
    await eve.fill("#nickname", XSS);
    await eve.click(".login-form button[type=submit]");
    await eve.locator("[role=alert]").waitFor();
    assert.equal(await eve.inputValue("#nickname"), XSS);
    assert.match((await eve.textContent("[role=alert]")) ?? "", /too long/);
    await eve.fill("#nickname", XSS_NICK);
    await Promise.all([
      eve.waitForURL(`${origin}/chat`),
      eve.click(".login-form button[type=submit]"),
    ]);
    scene.watcher.allowed.pop();
    await connected(eve);
    await send(eve, `${XSS} from eve`);
    await seeMessage(ann, `${XSS} from eve`);
    await ann.locator("#user-list .user-name", { hasText: XSS_NICK }).waitFor();
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
    assert.deepEqual(scene.watcher.dialogs, []);
  },
);

browserTest(
  "language switch is remembered from login to chat",
  async (scene) => {
    const { origin } = await scene.serve();
    const lin = await scene.page("lin", { locale: "zh-CN" });
    await lin.goto(`${origin}/login`);
    assert.equal(await lin.getAttribute("html", "lang"), "zh-CN");
    // The switch reloads the same address, so no URL or load event tells
    // the new page from the old one: wait for the page the switch asked for
    await lin.click("button[data-lang=en]");
    await lin.locator("html[lang=en]").waitFor({ state: "attached" });
    assert.equal(await lin.getAttribute("html", "lang"), "en");
    await login(lin, origin, "lin");
    assert.equal(await lin.getAttribute("html", "lang"), "en");
    assert.equal((await lin.textContent("#send-button"))?.trim(), "Send");
    await lin.click("button[data-lang=zh-CN]");
    await lin.locator("html[lang=zh-CN]").waitFor({ state: "attached" });
    assert.equal(await lin.getAttribute("html", "lang"), "zh-CN");
    await connected(lin);
    assert.equal((await lin.textContent("#send-button"))?.trim(), "发送");
    assert.equal(await lin.textContent("#conn-badge"), "已连接");
  },
);

browserTest("chat page works with the keyboard only", async (scene) => {
  const { origin, ann } = await annIn(scene);
  const kim = await scene.page("kim");
  await kim.goto(`${origin}/login`);
  await kim.keyboard.press("Tab");
  assert.equal(await focusedId(kim), "nickname");
  await kim.keyboard.type("kim");
  await Promise.all([
    kim.waitForURL(`${origin}/chat`),
    kim.keyboard.press("Enter"),
  ]);
  await connected(kim);
  assert.equal(await focusedId(kim), "message-input");
  await kim.keyboard.type("typed with keys only");
  await kim.keyboard.press("Enter");
  await seeMessage(ann, "typed with keys only");
  await kim.keyboard.press("Tab");
  assert.equal(await focusedId(kim), "send-button");

  // The skip link is the first stop from the top and shows when focused
  await kim.focus(".skip-link");
  const box = await kim.locator(".skip-link").boundingBox();
  assert.ok(box && box.y >= 0, `skip link on screen: ${JSON.stringify(box)}`);
  await kim.keyboard.press("Enter");
  assert.equal(await focusedId(kim), "message-input");
});

browserTest(
  "chat page fits a 375 px phone without sideways scroll",
  async (scene) => {
    const { server, ann } = await annIn(scene);
    // Something to read, for the newcomer's history and the screenshot
    (await server.join("bo")).send({ type: "message", text: "你好！" });
    await send(ann, "hello from ann");
    await seeMessage(ann, "hello from ann");
    const pat = await scene.page("pat", { ...PHONE, locale: "zh-CN" });
    await login(pat, server.origin, "pat");
    await seeMessage(pat, "hello from ann");
    await send(
      pat,
      "手机上的消息 with a long unbroken token " + "x".repeat(80),
    );
    await seeMessage(ann, "手机上的消息");
    await noHorizontalScroll(pat);
    for (const selector of ["#message-input", "#send-button", "#messages"]) {
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
    await pat.locator("#side-panel #user-list").waitFor({ state: "visible" });
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
    await pat.goto(`${server.origin}/login`);
    await noHorizontalScroll(pat);
  },
);

browserTest("screenshots of the remaining pages are written", async (scene) => {
  const server = await scene.serve();
  const origin = server.origin;
  // ann holds the name for the hint, and says something for the dark shot
  const ann = await server.join("ann");
  ann.send({ type: "message", text: "hello from ann" });
  await ann.waitForText("hello from ann");
  const page = await scene.page("shots", { locale: "zh-CN" });
  scene.watcher.allowed.push(/status of 409/);
  await page.goto(`${origin}/login`);
  await page.fill("#nickname", "ann");
  await page.click(".login-form button[type=submit]");
  await page.locator("[role=alert]").waitFor();
  await shot(page, "login-zh-CN-hint.png");
  scene.watcher.allowed.pop();
  const phone = await scene.page("phone", PHONE);
  await phone.goto(`${origin}/login`);
  await shot(phone, "login-phone-en.png");
  const dark = await scene.page("dark", { colorScheme: "dark" });
  await login(dark, origin, "dee");
  await seeMessage(dark, "hello from ann");
  await send(dark, "Dark mode, see https://example.com");
  await seeMessage(dark, "Dark mode");
  await shot(dark, "chat-dark-en.png");
}, { ignore: !SCREENSHOTS });
