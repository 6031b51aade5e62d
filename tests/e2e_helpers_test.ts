/**
 * The chat page's pure helpers (static/chat/), run in Deno: no browser
 * needed. The browser scenarios are in the other tests/e2e_*_test.ts files.
 *
 * @module
 */
import assert from "node:assert/strict";
import { roomPath, roomSlug, socketUrl } from "../static/chat/addresses.js";
import { backoffDelay } from "../static/chat/connection.js";
import { startsOver } from "../static/chat/frames.js";
import { newCid } from "../static/chat/outbox.js";
import {
  format,
  linkSegments,
  nickColourClass,
  nickColourRules,
} from "../static/chat/text.js";

const XSS = "<img src=x onerror=alert(1)>";

Deno.test("linkSegments links http(s) only and stops where the URL stops", () => {
  assert.deepEqual(linkSegments("see https://example.com/a?b=1."), [
    { text: "see " },
    { text: "https://example.com/a?b=1", href: "https://example.com/a?b=1" },
    { text: "." },
  ]);
  assert.deepEqual(linkSegments("看这个http://example.com/x，很好"), [
    { text: "看这个" },
    { text: "http://example.com/x", href: "http://example.com/x" },
    { text: "，很好" },
  ]);
  assert.deepEqual(
    linkSegments("(https://en.wikipedia.org/wiki/Foo_(bar))"),
    [
      { text: "(" },
      {
        text: "https://en.wikipedia.org/wiki/Foo_(bar)",
        href: "https://en.wikipedia.org/wiki/Foo_(bar)",
      },
      { text: ")" },
    ],
  );
  for (
    const text of [
      "javascript:alert(1)",
      "data:text/html,<b>x</b>",
      "ftp://example.com",
      "http://",
      "https:// spaced",
      "xhttps://example.com",
      XSS,
    ]
  ) {
    assert.ok(
      linkSegments(text).every((s) => s.href === undefined),
      `no link in ${text}`,
    );
  }
  assert.deepEqual(linkSegments(""), []);
  // Text around links is kept exactly, nothing added or lost
  const text = "a https://x.org/1 b http://y.org/2?q=<i> c";
  assert.equal(linkSegments(text).map((s) => s.text).join(""), text);
});

/** The segments that are links, as [text, href] pairs */
function links(text: string): [string, string][] {
  return linkSegments(text).flatMap((s) =>
    s.href === undefined ? [] : [[s.text, s.href] as [string, string]]
  );
}

Deno.test("linkSegments leaves URLs with userinfo as text", () => {
  for (
    const text of [
      "https://google.com@evil.example/",
      "go to https://google.com@evil.example/login now",
      "http://user:pass@evil.example",
      "https://google.com:443@evil.example/",
      "https://@evil.example/",
      "https://a%40b@evil.example/",
    ]
  ) {
    assert.deepEqual(links(text), [], `no link in ${text}`);
    // Left exactly as typed, nothing lost
    assert.equal(linkSegments(text).map((s) => s.text).join(""), text);
  }
  // An "@" after the host is part of a path or query, not userinfo
  assert.deepEqual(links("https://example.com/@ann?to=a@b.org"), [[
    "https://example.com/@ann?to=a@b.org",
    "https://example.com/@ann?to=a@b.org",
  ]]);
  // Ordinary links beside one still work
  assert.deepEqual(
    links(
      "http://x.org/1 https://google.com@evil.example/ https://y.org:8443/",
    ),
    [["http://x.org/1", "http://x.org/1"], [
      "https://y.org:8443/",
      "https://y.org:8443/",
    ]],
  );
});

Deno.test("linkSegments does not link a URL that runs into a bidi control", () => {
  for (
    const control of [
      "\u202E", // right-to-left override
      "\u202D", // left-to-right override
      "\u202B", // right-to-left embedding
      "\u2067", // right-to-left isolate
      "\u2066", // left-to-right isolate
      "\u2068", // first strong isolate
      "\u200F", // right-to-left mark
      "\u061C", // Arabic letter mark
      "\u200B", // zero-width space: the same trick without bidi
    ]
  ) {
    for (
      const text of [
        `https://evil${control}moc.elgoog`,
        `see https://evil.${control}moc.elgoog/x`,
        `https://example.com/a${control}b`,
      ]
    ) {
      assert.deepEqual(links(text), [], `no link in ${JSON.stringify(text)}`);
      assert.equal(linkSegments(text).map((s) => s.text).join(""), text);
    }
  }
  // A control before or apart from a URL does not stop it being a link
  assert.deepEqual(links("\u202Ehttps://example.com/ ok"), [[
    "https://example.com/",
    "https://example.com/",
  ]]);
  assert.deepEqual(links("https://example.com/ \u202E"), [[
    "https://example.com/",
    "https://example.com/",
  ]]);
});

Deno.test("roomSlug, roomPath and socketUrl agree on where a room is", () => {
  assert.equal(roomSlug("  Dev Team "), "dev-team");
  assert.equal(roomSlug("a_b"), "a-b");
  assert.equal(roomSlug("lobby"), "lobby");
  assert.equal(roomSlug(""), null);
  assert.equal(roomSlug("中文"), null);
  assert.equal(roomSlug("x".repeat(33)), null);
  assert.equal(roomSlug("../etc"), null);
  assert.equal(roomPath("lobby"), "/chat");
  assert.equal(roomPath("dev"), "/chat/dev");
  assert.equal(
    socketUrl({ protocol: "http:", host: "h:1" }, "lobby"),
    "ws://h:1/ws/lobby",
  );
  assert.equal(
    socketUrl({ protocol: "https:", host: "h" }, "dev", { since: 42 }),
    "wss://h/ws/dev?since=42",
  );
  assert.equal(
    socketUrl({ protocol: "http:", host: "h" }, "dev", {
      since: 3,
      epoch: "a-B_9",
    }),
    "ws://h/ws/dev?since=3&epoch=a-B_9",
  );
});

Deno.test("startsOver: the page forgets seen ids only when the stream is another", () => {
  // Recovered, or a gap in the same stream: ids are still unique.
  assert.equal(startsOver("A", { recovered: true, epoch: "B" }), false);
  assert.equal(startsOver("A", { recovered: false, epoch: "A" }), false);
  // Another epoch, a wiped room (no epoch yet), or a page that never knew.
  assert.equal(startsOver("A", { recovered: false, epoch: "B" }), true);
  assert.equal(startsOver("A", { recovered: false, epoch: "" }), true);
  assert.equal(startsOver("", { recovered: false, epoch: "B" }), true);
});

Deno.test("backoffDelay grows from 1 s to 30 s with jitter", () => {
  assert.equal(backoffDelay(0, () => 0), 1000);
  assert.equal(backoffDelay(0, () => 1), 1000);
  assert.equal(backoffDelay(1, () => 0), 1000);
  assert.equal(backoffDelay(1, () => 1), 2000);
  assert.equal(backoffDelay(3, () => 0), 4000);
  assert.equal(backoffDelay(3, () => 1), 8000);
  for (let attempt = 0; attempt < 40; attempt++) {
    const delay = backoffDelay(attempt);
    assert.ok(delay >= 1000 && delay <= 30_000, `${attempt}: ${delay}`);
  }
  assert.equal(backoffDelay(20, () => 1), 30_000);
  assert.equal(backoffDelay(20, () => 0), 15_000);
});

Deno.test("format fills placeholders once and nickColourClass is stable", () => {
  assert.equal(format("{a} and {b}", { a: 1 }), "1 and {b}");
  assert.equal(format("{a}", { a: "$&{a}" }), "$&{a}");
  assert.equal(nickColourClass("ann"), nickColourClass("ann"));
  assert.match(nickColourClass(XSS), /^nick-c[0-7]$/);
});

Deno.test("nickColourRules give every colour class its palette colour", () => {
  const rules = nickColourRules();
  assert.equal(rules.length, 8);
  rules.forEach((rule, i) => {
    assert.equal(rule, `.nick-c${i} { color: var(--nick-${i}); }`);
  });
});

Deno.test("newCid is 32 hex digits and differs each time", () => {
  const cids = new Set(Array.from({ length: 100 }, () => newCid()));
  assert.equal(cids.size, 100);
  for (const cid of cids) assert.match(cid, /^[0-9a-f]{32}$/);
});
