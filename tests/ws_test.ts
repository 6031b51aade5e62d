import assert from "node:assert/strict";
import {
  barrier,
  getPage,
  loginOk,
  startServer,
  TestClient,
} from "./helpers/harness.ts";

async function rawGet(
  url: string,
  headers: Record<string, string>,
): Promise<Response> {
  const res = await fetch(url, { headers, redirect: "manual" });
  await res.body?.cancel();
  return res;
}

Deno.test("GET /ws answers 426 without Upgrade, 401 without a session, 404 for a bad room", async () => {
  await using server = await startServer();
  const cookie = await loginOk(server, "alice");
  assert.equal((await rawGet(`${server.url}/ws`, { cookie })).status, 426);
  await assert.rejects(TestClient.open(server, ""));
  await assert.rejects(TestClient.open(server, cookie, { room: "Bad_Room" }));
  // fetch cannot upgrade, so check the status codes through the app itself.
  const upgrade = { upgrade: "websocket", connection: "Upgrade" };
  const anon = await server.chat.app.fetch(
    new Request(`${server.url}/ws`, { headers: upgrade }),
  );
  assert.equal(anon.status, 401);
  const bad = await server.chat.app.fetch(
    new Request(`${server.url}/ws/Bad_Room`, {
      headers: { ...upgrade, cookie },
    }),
  );
  assert.equal(bad.status, 404);
  assert.deepEqual(server.chat.hub.stats().connections, 0);
});

Deno.test("GET /ws refuses a foreign Origin with 403 and nobody joins", async () => {
  await using server = await startServer({
    ALLOWED_ORIGINS: "https://chat.example",
  });
  const watcher = await server.join("w");
  const cookie = await loginOk(server, "eve");
  const res = await server.chat.app.fetch(
    new Request(`${server.url}/ws`, {
      headers: {
        upgrade: "websocket",
        connection: "Upgrade",
        cookie,
        origin: "https://evil.example",
      },
    }),
  );
  assert.equal(res.status, 403);
  await assert.rejects(
    TestClient.open(server, cookie, { origin: "https://evil.example" }),
  );
  await server.joinWith(cookie);
  await using allowed = await TestClient.open(server, cookie, {
    origin: "https://chat.example",
  });
  await allowed.waitFor((e) => e.type === "welcome");
  // Exactly one join for eve: the refused attempts never reached the room.
  await barrier(watcher);
  assert.equal(watcher.ofType("join").length, 1);
});

Deno.test("two users chat and both see each message once with the same id", async () => {
  await using server = await startServer();
  const alice = await server.join("alice");
  const bob = await server.join("bob");
  assert.deepEqual(bob.welcome.users, ["alice", "bob"]);
  assert.equal(bob.welcome.nickname, "bob");
  assert.deepEqual(bob.welcome.history, []);
  await alice.waitForNotice("join", "bob");
  alice.send({ type: "message", text: "  hello bob  " });
  const a1 = await alice.waitForText("hello bob");
  const b1 = await bob.waitForText("hello bob");
  assert.equal(a1.id, b1.id);
  assert.equal(a1.nickname, "alice");
  assert.equal(typeof a1.ts, "number");
  bob.send({ type: "message", text: "hi alice" });
  const a2 = await alice.waitForText("hi alice");
  const b2 = await bob.waitForText("hi alice");
  assert.equal(a2.id, a1.id + 1);
  assert.equal(b2.id, a2.id);
  assert.equal(alice.ofType("message").length, 2);
  assert.equal(bob.ofType("message").length, 2);
  await alice.close();
  await bob.waitForNotice("leave", "alice");
});

Deno.test("a user with two tabs is announced once on join and once on leave", async () => {
  await using server = await startServer();
  const watcher = await server.join("w");
  const tab1 = await server.join("tabby");
  const tab2 = await server.joinWith(tab1.cookie);
  assert.deepEqual(tab2.welcome.users, ["tabby", "w"]);
  await tab1.close();
  await barrier(watcher);
  assert.equal(watcher.ofType("leave").length, 0);
  await tab2.close();
  await watcher.waitFor((e) => e.type === "leave");
  await barrier(watcher);
  assert.equal(watcher.ofType("join").length, 1);
  assert.equal(watcher.ofType("leave").length, 1);
});

Deno.test("bad frames get an error frame and the socket stays open", async () => {
  await using server = await startServer();
  const c = await server.join("fuzzy");
  const cases: [string, string][] = [
    ["{not json", "bad_request"],
    ['{"type":"shout","text":"x"}', "bad_request"],
    ['{"type":"message","text":42}', "bad_request"],
    [
      '{"type":"message","text":"x","huge":"' + "y".repeat(1000) + '"}',
      "bad_request",
    ],
    ["[1,2]", "bad_request"],
    ['{"type":"message","text":"   "}', "empty"],
    [JSON.stringify({ type: "message", text: "z".repeat(2001) }), "too_long"],
  ];
  for (const [frame, code] of cases) {
    const before = c.events.length;
    c.send(frame);
    const err = await c.waitFor((e) => e.type === "error", { from: before });
    assert.equal(err.code, code, frame.slice(0, 40));
    assert.equal(typeof err.message, "string");
  }
  c.send({ type: "message", text: "still here" });
  await c.waitForText("still here");
  assert.equal(c.ofType("message").length, 1);
  // 2000 code points of a 4-byte character are within the limit.
  c.send({ type: "message", text: "😀".repeat(2000) });
  await c.waitForText("😀".repeat(2000));
});

Deno.test("hostile text comes back byte-for-byte", async () => {
  await using server = await startServer();
  const c = await server.join("<b>x</b>");
  const texts = [
    "<img src=x onerror=alert(1)>",
    "<script>alert('x')</script>",
    "\"quotes\" & 'apostrophes' \\ back\\slash",
    "中文 и русский 🎉",
    "line one\nline two",
  ];
  for (const text of texts) c.send({ type: "message", text });
  for (const text of texts) {
    const got = await c.waitForText(text);
    assert.equal(got.nickname, "<b>x</b>");
  }
});

Deno.test("a socket whose nickname is held by another session is closed with 4409", async () => {
  await using server = await startServer({ NICK_GRACE_SECONDS: "0" });
  const first = await loginOk(server, "olga");
  // The first session never connects; its zero-second grace lapses at once.
  await new Promise((r) => setTimeout(r, 5));
  const second = await loginOk(server, "OLGA");
  await server.joinWith(second);
  const s1 = await TestClient.open(server, first);
  assert.equal((await s1.closed).code, 4409);
});

Deno.test("GET /healthz reports connections and users", async () => {
  await using server = await startServer();
  const a = await server.join("hal");
  await server.joinWith(a.cookie);
  const res = await fetch(`${server.url}/healthz`);
  const body = await res.json();
  assert.equal(res.status, 200);
  assert.equal(body.status, "ok");
  assert.equal(body.connections, 2);
  assert.equal(body.users, 1);
});

Deno.test("GET /static serves the client with an ETag and no external URLs", async () => {
  await using server = await startServer();
  const cookie = await loginOk(server, "stat");
  const { body: html } = await getPage(server, "/chat", cookie);
  const scripts = [...html.matchAll(/src="(\/static\/[^"]+)"/g)].map((m) =>
    m[1]
  );
  assert.ok(scripts.length > 0, "the chat page loads a script from /static");
  for (const src of scripts) {
    const res = await fetch(`${server.url}${src.replaceAll("&amp;", "&")}`);
    const body = await res.text();
    assert.equal(res.status, 200);
    assert.match(res.headers.get("cache-control") ?? "", /immutable/);
    const etag = res.headers.get("etag")!;
    assert.ok(etag);
    assert.doesNotMatch(body, /https?:\/\/[a-z]/i);
    const again = await fetch(`${server.url}${src.split("?")[0]}`, {
      headers: { "if-none-match": etag },
    });
    await again.body?.cancel();
    assert.equal(again.status, 304);
  }
  const missing = await fetch(`${server.url}/static/nope.js`);
  await missing.body?.cancel();
  assert.equal(missing.status, 404);
});
