import assert from "node:assert/strict";
import {
  clientStrings,
  dictionary,
  isLang,
  LANGS,
  messageKeys,
  pickLang,
  t,
} from "../lib/web/i18n.ts";
import type { Lang } from "../lib/web/i18n.ts";
import { ChatPage } from "../templates/chat_page.tsx";
import { LoginPage } from "../templates/login_page.tsx";
import { NotFoundPage } from "../templates/not_found_page.tsx";

Deno.test("pickLang: no cookie and no header is English", () => {
  assert.equal(pickLang(undefined, undefined), "en");
  assert.equal(pickLang(undefined, ""), "en");
  assert.equal(pickLang("", ""), "en");
});

Deno.test("pickLang: a valid cookie wins over Accept-Language", () => {
  assert.equal(pickLang("en", "zh-CN,zh;q=0.9"), "en");
  assert.equal(pickLang("zh-CN", "en-US,en;q=0.9"), "zh-CN");
  // Case changes survive, since only our own switch writes the cookie
  assert.equal(pickLang("zh-cn", "en"), "zh-CN");
  assert.equal(pickLang(" en ", "zh"), "en");
});

Deno.test("pickLang: an unknown cookie falls back to the header", () => {
  assert.equal(pickLang("fr", "zh-CN"), "zh-CN");
  assert.equal(pickLang("<script>", "en"), "en");
  assert.equal(pickLang("de", undefined), "en");
});

Deno.test("pickLang: Chinese variants map to zh-CN", () => {
  for (
    const header of [
      "zh",
      "zh-CN",
      "zh-Hans",
      "zh-Hans-CN",
      "zh-SG",
      "ZH-cn",
      "zh-TW",
    ]
  ) {
    assert.equal(pickLang(undefined, header), "zh-CN", header);
  }
});

Deno.test("pickLang: English variants map to en", () => {
  for (const header of ["en", "en-US", "en-GB", "EN"]) {
    assert.equal(pickLang(undefined, header), "en", header);
  }
});

Deno.test("pickLang: weights decide, ties go to the earlier entry", () => {
  assert.equal(pickLang(undefined, "en;q=0.5, zh-CN;q=0.9"), "zh-CN");
  assert.equal(pickLang(undefined, "zh-CN;q=0.4,en;q=0.8"), "en");
  assert.equal(pickLang(undefined, "zh-CN,en"), "zh-CN");
  assert.equal(pickLang(undefined, "en,zh-CN"), "en");
  assert.equal(pickLang(undefined, "en;q=0.7,zh;q=0.7"), "en");
});

Deno.test("pickLang: unsupported languages are skipped", () => {
  assert.equal(pickLang(undefined, "fr-FR,fr;q=0.9,zh;q=0.5"), "zh-CN");
  assert.equal(pickLang(undefined, "de, ja;q=0.8"), "en");
  assert.equal(pickLang(undefined, "*"), "en");
});

Deno.test("pickLang: q=0 and malformed weights mean not acceptable", () => {
  assert.equal(pickLang(undefined, "zh;q=0, en;q=0.1"), "en");
  assert.equal(pickLang(undefined, "zh;q=0.000"), "en");
  assert.equal(pickLang(undefined, "zh;q=abc,en;q=0.2"), "en");
  assert.equal(pickLang(undefined, "zh;q=2"), "en");
});

Deno.test("pickLang: junk headers do not throw", () => {
  for (
    const header of [
      ",,,",
      ";;;",
      "q=1",
      ";q=1",
      "zh-",
      "-",
      "\u0000zh",
      "zh;q=",
      "x".repeat(100_000),
      "zh,".repeat(10_000),
    ]
  ) {
    const lang = pickLang(undefined, header);
    assert.ok(isLang(lang), header.slice(0, 20));
  }
  assert.equal(pickLang(undefined, "zh,".repeat(10_000)), "zh-CN");
});

Deno.test("LANGS lists English first and both languages once", () => {
  assert.deepEqual([...LANGS], ["en", "zh-CN"]);
  assert.ok(isLang("en"));
  assert.ok(isLang("zh-CN"));
  assert.ok(!isLang("zh-cn"));
  assert.ok(!isLang(undefined));
});

Deno.test("dictionaries have the same keys and no empty strings", () => {
  const keys = messageKeys().sort();
  for (const lang of LANGS) {
    const dict = dictionary(lang);
    assert.deepEqual(Object.keys(dict).sort(), keys, lang);
    for (const key of keys) {
      assert.equal(typeof dict[key], "string", `${lang}.${key}`);
      assert.ok(dict[key].trim().length > 0, `${lang}.${key} is empty`);
    }
  }
});

Deno.test("dictionaries use the same placeholders for each key", () => {
  const placeholders = (text: string) =>
    [...text.matchAll(/\{([a-z_]+)\}/g)].map((m) => m[1]).sort();
  for (const key of messageKeys()) {
    assert.deepEqual(
      placeholders(dictionary("zh-CN")[key]),
      placeholders(dictionary("en")[key]),
      key,
    );
  }
});

Deno.test("strings follow the house style", () => {
  for (const key of messageKeys()) {
    const en = dictionary("en")[key];
    // Capital first letter (placeholders and symbols aside), no final period
    assert.ok(!/\.$/.test(en), `en.${key} ends with a period`);
    assert.ok(
      !/^[a-z]/.test(en) || key === "room_form_placeholder",
      `en.${key}`,
    );
    assert.ok(!/。$/.test(dictionary("zh-CN")[key]), `zh-CN.${key}`);
  }
  // The Chinese dictionary is really Chinese where it matters
  assert.match(t("zh-CN", "login_explain"), /[\u4e00-\u9fff]/);
  assert.match(t("zh-CN", "send"), /[\u4e00-\u9fff]/);
});

Deno.test("t fills placeholders and keeps unknown ones", () => {
  assert.equal(t("en", "online_count", { count: 3 }), "3 online");
  assert.equal(t("zh-CN", "online_count", { count: 3 }), "3 人在线");
  assert.equal(
    t("en", "status_reconnecting", { seconds: 5 }),
    "Reconnecting in 5 s",
  );
  assert.equal(t("en", "event_join"), "{nickname} joined");
  assert.equal(t("en", "event_join", { other: "x" }), "{nickname} joined");
  // A value that looks like a placeholder is not filled again
  assert.equal(
    t("en", "event_join", { nickname: "{nickname}" }),
    "{nickname} joined",
  );
  assert.equal(t("en", "event_join", { nickname: "$&" }), "$& joined");
});

Deno.test("clientStrings gives the keys static/chat/ looks up", async () => {
  const dir = new URL("../static/chat/", import.meta.url);
  let source = "";
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile) {
      source += await Deno.readTextFile(new URL(entry.name, dir));
    }
  }
  const used = new Set(
    [...source.matchAll(/\bs\("([a-z_]+)"/g)].map((m) => m[1]),
  );
  // error_${code} is built at run time
  for (const code of ["bad_request", "too_long", "empty"]) {
    used.add(`error_${code}`);
  }
  for (const lang of LANGS) {
    const strings = clientStrings(lang);
    for (const key of used) {
      assert.equal(typeof strings[key], "string", `${lang}: ${key} missing`);
    }
    // Only strings, so the JSON embedded in the page is flat and small
    for (const value of Object.values(strings)) {
      assert.equal(typeof value, "string");
    }
  }
  assert.notEqual(
    clientStrings("en").status_connected,
    clientStrings("zh-CN").status_connected,
  );
});

async function render(node: unknown): Promise<string> {
  return String(await node);
}

Deno.test("pages render in both languages with the right lang attribute", async () => {
  const cases: [Lang, string, string][] = [
    ["en", "Choose a nickname", "Send"],
    ["zh-CN", "选择昵称", "发送"],
  ];
  for (const [lang, loginText, sendText] of cases) {
    const login = await render(LoginPage({ lang }));
    assert.match(login, /^<!DOCTYPE html>/);
    assert.ok(login.includes(`<html lang="${lang}">`), lang);
    assert.ok(login.includes(loginText), lang);
    const chat = await render(
      ChatPage({ lang, nickname: "ann", room: "lobby" }),
    );
    assert.ok(chat.includes(`<html lang="${lang}">`), lang);
    assert.ok(chat.includes(sendText), lang);
    const missing = await render(NotFoundPage({ lang }));
    assert.ok(missing.includes('href="/chat"'), lang);
  }
});

Deno.test("login page: form, label, explanation, kept value and hint", async () => {
  const plain = await render(LoginPage({ lang: "en" }));
  assert.match(plain, /<form method="post" action="\/login"/);
  assert.match(plain, /<label for="nickname"/);
  assert.match(plain, /name="nickname"/);
  assert.ok(!/autofocus/.test(plain));
  assert.ok(!/role="alert"/.test(plain));
  const maxlength = Number(/maxlength="(\d+)"/.exec(plain)?.[1]);
  assert.ok(maxlength >= 24, `maxlength ${maxlength}`);
  assert.ok(plain.includes(t("en", "login_explain")));

  const hinted = await render(
    LoginPage({ lang: "zh-CN", value: "ann", hint: "nick_taken" }),
  );
  assert.match(hinted, /role="alert"/);
  assert.match(hinted, /autofocus/);
  assert.match(hinted, /value="ann"/);
  assert.ok(hinted.includes(t("zh-CN", "hint_nick_taken")));
  assert.match(hinted, /aria-invalid="true"/);

  for (
    const hint of [
      "nick_empty",
      "nick_too_long",
      "nick_bad_chars",
      "session_lost",
    ] as const
  ) {
    const html = await render(LoginPage({ lang: "en", hint }));
    assert.match(html, /role="alert"/, hint);
    assert.ok(!html.includes("{max}"), hint);
  }
});

Deno.test("templates escape user text and embed no inline script", async () => {
  const evil = `<img src=x onerror=alert(1)>"'&</script><!--`;
  const login = await render(
    LoginPage({ lang: "en", value: evil, hint: "nick_bad_chars" }),
  );
  assert.ok(!login.includes("<img"), login);
  assert.ok(login.includes("&lt;img src=x onerror=alert(1)&gt;&quot;"));
  const chat = await render(
    ChatPage({ lang: "en", nickname: evil, room: "lobby" }),
  );
  assert.ok(!chat.includes("<img"));
  assert.ok(!chat.includes("</script><!--"));
  assert.match(chat, /data-nickname="&lt;img/);
  assert.match(chat, /data-room="lobby"/);
  for (const html of [login, chat]) {
    // Every script is external or JSON: the CSP forbids inline code
    for (const tag of html.matchAll(/<script\b[^>]*>/g)) {
      assert.match(
        tag[0],
        /type="module" src="\/static\/|type="application\/json"/,
      );
    }
    // Attribute values and text hold escaped user text; look at the tags'
    // attribute names only
    const tags = html.replace(/"[^"]*"/g, '""').match(/<[a-z][^>]*>/gi) ?? [];
    for (const tag of tags) {
      assert.ok(!/\sstyle=/.test(tag), `inline style in ${tag}`);
      assert.ok(!/\son[a-z]+=/.test(tag), `inline handler in ${tag}`);
    }
  }
});

Deno.test("chat page strings JSON parses and cannot end its script early", async () => {
  const chat = await render(
    ChatPage({ lang: "zh-CN", nickname: "ann", room: "dev" }),
  );
  const match =
    /<script type="application\/json" id="strings">([\s\S]*?)<\/script>/.exec(
      chat,
    );
  assert.ok(match, "strings block");
  assert.ok(!match[1].includes("<"));
  const strings = JSON.parse(match[1]);
  assert.deepEqual(strings, clientStrings("zh-CN"));
  assert.match(chat, /role="log"/);
  assert.match(chat, /aria-live="polite"/);
  assert.match(chat, /<form method="post" action="\/logout"/);
  assert.match(chat, /<label for="message-input"/);
});
