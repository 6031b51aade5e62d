import assert from "node:assert/strict";
import { loginOk, startServer, TestClient } from "./helpers/harness.ts";

async function rawGet(
  url: string,
  headers: Record<string, string>,
): Promise<Response> {
  const res = await fetch(url, { headers, redirect: "manual" });
  await res.body?.cancel();
  return res;
}

Deno.test("GET /ws answers 426 without Upgrade, 401 without a session, 404 for a bad room", async () => {
  const server = await startServer();
  try {
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
  } finally {
    await server.close();
  }
});

Deno.test("GET /ws refuses a foreign Origin with 403 and nobody joins", async () => {
  const server = await startServer({
    ALLOWED_ORIGINS: "https://chat.example",
  });
  try {
    const watcher = await TestClient.join(server, await loginOk(server, "w"));
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
    const same = await TestClient.join(server, cookie, {});
    const allowed = await TestClient.open(server, cookie, {
      origin: "https://chat.example",
    });
    await allowed.waitFor((e) => e.type === "welcome");
    // Exactly one join for eve: the refused attempts never reached the room.
    watcher.send({ type: "message", text: "barrier" });
    await watcher.waitForText("barrier");
    assert.equal(watcher.ofType("join").length, 1);
    await same.close();
    await allowed.close();
    await watcher.close();
  } finally {
    await server.close();
  }
});

Deno.test("two users chat and both see each message once with the same id", async () => {
  const server = await startServer();
  try {
    const alice = await TestClient.join(server, await loginOk(server, "alice"));
    const bob = await TestClient.join(server, await loginOk(server, "bob"));
    assert.deepEqual(bob.welcome.users, ["alice", "bob"]);
    assert.equal(bob.welcome.nickname, "bob");
    assert.deepEqual(bob.welcome.history, []);
    await alice.waitFor((e) => e.type === "join" && e.nickname === "bob");
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
    await bob.waitFor((e) => e.type === "leave" && e.nickname === "alice");
    await bob.close();
  } finally {
    await server.close();
  }
});

Deno.test("a user with two tabs is announced once on join and once on leave", async () => {
  const server = await startServer();
  try {
    const watcher = await TestClient.join(server, await loginOk(server, "w"));
    const cookie = await loginOk(server, "tabby");
    const tab1 = await TestClient.join(server, cookie);
    const tab2 = await TestClient.join(server, cookie);
    assert.deepEqual(tab2.welcome.users, ["tabby", "w"]);
    await tab1.close();
    watcher.send({ type: "message", text: "after first tab" });
    await watcher.waitForText("after first tab");
    assert.equal(watcher.ofType("leave").length, 0);
    await tab2.close();
    await watcher.waitFor((e) => e.type === "leave");
    watcher.send({ type: "message", text: "barrier" });
    await watcher.waitForText("barrier");
    assert.equal(watcher.ofType("join").length, 1);
    assert.equal(watcher.ofType("leave").length, 1);
    await watcher.close();
  } finally {
    await server.close();
  }
});

Deno.test("bad frames get an error frame and the socket stays open", async () => {
  const server = await startServer();
  try {
    const c = await TestClient.join(server, await loginOk(server, "fuzzy"));
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
    await c.close();
  } finally {
    await server.close();
  }
});

Deno.test("hostile text comes back byte-for-byte", async () => {
  const server = await startServer();
  try {
    const c = await TestClient.join(server, await loginOk(server, "<b>x</b>"));
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
    await c.close();
  } finally {
    await server.close();
  }
});

Deno.test("a socket whose nickname is held by another session is closed with 4409", async () => {
  const server = await startServer({ NICK_GRACE_SECONDS: "0" });
  try {
    const first = await loginOk(server, "olga");
    // The first session never connects; its zero-second grace lapses at once.
    await new Promise((r) => setTimeout(r, 5));
    const second = await loginOk(server, "OLGA");
    const s2 = await TestClient.join(server, second);
    const s1 = await TestClient.open(server, first);
    assert.equal((await s1.closed).code, 4409);
    await s2.close();
  } finally {
    await server.close();
  }
});

Deno.test("GET /healthz reports connections and users", async () => {
  const server = await startServer();
  try {
    const cookie = await loginOk(server, "hal");
    const a = await TestClient.join(server, cookie);
    const b = await TestClient.join(server, cookie);
    const res = await fetch(`${server.url}/healthz`);
    const body = await res.json();
    assert.equal(res.status, 200);
    assert.equal(body.status, "ok");
    assert.equal(body.connections, 2);
    assert.equal(body.users, 1);
    await a.close();
    await b.close();
  } finally {
    await server.close();
  }
});

Deno.test("GET /static serves the client with an ETag and no external URLs", async () => {
  const server = await startServer();
  try {
    const cookie = await loginOk(server, "stat");
    const html = await (await fetch(`${server.url}/chat`, {
      headers: { cookie },
    })).text();
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
  } finally {
    await server.close();
  }
});
