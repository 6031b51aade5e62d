import assert from "node:assert/strict";
import { generateSignedCookie } from "hono/cookie";
import { encodeSession } from "../lib/auth/session.ts";
import {
  barrier,
  count,
  getPage,
  login,
  loginOk,
  logout,
  SECRET,
  startServer,
  TestClient,
} from "./helpers/harness.ts";

const OTHER_SECRET = "another-secret-0123456789-abcdefghijklmnop";

async function craftCookie(
  options: { nickname: string; issuedAt: number; secret?: string },
): Promise<string> {
  const value = encodeSession({
    sid: "abcdefghijklmnopqrstuv",
    nickname: options.nickname,
    issuedAt: options.issuedAt,
  });
  const header = await generateSignedCookie(
    "session",
    value,
    options.secret ?? SECRET,
    { path: "/" },
  );
  return header.split(";")[0];
}

Deno.test("GET / redirects to /login without a session and to /chat with one", async () => {
  await using server = await startServer();
  const anon = await getPage(server, "/");
  assert.equal(anon.status, 303);
  assert.equal(anon.headers.get("location"), "/login");
  const cookie = await loginOk(server, "alice");
  const authed = await getPage(server, "/", cookie);
  assert.equal(authed.status, 303);
  assert.equal(authed.headers.get("location"), "/chat");
});

Deno.test("GET /login serves the form and a strict CSP", async () => {
  await using server = await startServer();
  const res = await getPage(server, "/login");
  const html = res.body;
  assert.equal(res.status, 200);
  assert.match(html, /<form[^>]*method="post"[^>]*action="\/login"/);
  assert.match(html, /<input[^>]*name="nickname"/);
  const csp = res.headers.get("content-security-policy") ?? "";
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(html, /https?:\/\/(?!127\.0\.0\.1)/);
});

Deno.test("POST /login sets an HttpOnly SameSite=Lax cookie and redirects to /chat", async () => {
  await using server = await startServer();
  const result = await login(server, "  Alice  ");
  assert.equal(result.status, 303);
  const setCookie = result.setCookie ?? "";
  assert.match(setCookie, /^session=/);
  assert.match(setCookie, /HttpOnly/);
  assert.match(setCookie, /Path=\//);
  assert.match(setCookie, /SameSite=Lax/);
  assert.doesNotMatch(setCookie, /Secure/);
  const chat = await getPage(server, "/chat", result.cookie);
  assert.equal(chat.status, 200);
  assert.match(chat.body, /Alice/);
});

Deno.test("POST /login over HTTPS uses the __Host- prefix and Secure", async () => {
  // Only the public origin's host is served once it is configured (issue 11).
  await using server = await startServer({
    PUBLIC_ORIGIN: "https://chat.example",
  });
  // TLS is terminated in front of the app in production; the app sees an https URL.
  const res = await server.chat.app.fetch(
    new Request("https://chat.example/login", {
      method: "POST",
      headers: {
        origin: "https://chat.example",
        "content-type": "application/x-www-form-urlencoded",
      },
      body: "nickname=secure",
    }),
  );
  assert.equal(res.status, 303);
  const setCookie = res.headers.get("set-cookie") ?? "";
  assert.match(setCookie, /^__Host-session=/);
  assert.match(setCookie, /Secure/);
  assert.match(setCookie, /Path=\//);
  const cookie = setCookie.split(";")[0];
  const chat = await server.chat.app.fetch(
    new Request("https://chat.example/chat", { headers: { cookie } }),
  );
  assert.equal(chat.status, 200);
  await chat.body?.cancel();
});

Deno.test("POST /login rejects invalid nicknames with 400, a hint and no cookie", async () => {
  await using server = await startServer();
  for (
    const bad of ["", "   ", "a\u0000b", "x".repeat(25), "evil\u202Eman"]
  ) {
    const result = await login(server, bad);
    assert.equal(result.status, 400, `nickname ${JSON.stringify(bad)}`);
    assert.equal(result.setCookie, null);
    assert.match(result.body, /role="alert"/);
  }
  const chinese = await login(server, "小明同学");
  assert.equal(chinese.status, 303);
});

Deno.test("POST /login answers 409 and no cookie for a taken nickname, in any case", async () => {
  await using server = await startServer();
  await loginOk(server, "Bob");
  for (const name of ["Bob", "bob", "BOB"]) {
    const result = await login(server, name);
    assert.equal(result.status, 409);
    assert.equal(result.setCookie, null);
    assert.match(result.body, /role="alert"/);
  }
});

Deno.test("POST /login rejects cross-site posts with 403 and bodies over 4 KiB with 413", async () => {
  await using server = await startServer();
  const cross = await login(server, "mallory", {
    origin: "https://evil.example",
  });
  assert.equal(cross.status, 403);
  assert.equal(cross.setCookie, null);
  const big = await fetch(`${server.url}/login`, {
    method: "POST",
    headers: {
      origin: server.origin,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: `nickname=a&pad=${"x".repeat(5000)}`,
    redirect: "manual",
  });
  await big.body?.cancel();
  assert.equal(big.status, 413);
});

Deno.test("GET /chat redirects to /login without a valid session", async () => {
  await using server = await startServer();
  const res = await getPage(server, "/chat");
  assert.equal(res.status, 303);
  assert.equal(res.headers.get("location"), "/login");
});

Deno.test("readSession() rejects tampered, expired, future-dated and unknown-secret cookies", async () => {
  await using server = await startServer({
    COOKIE_SECRET: `${SECRET},${OTHER_SECRET}`,
  });
  const now = Date.now();
  const good = await craftCookie({ nickname: "carol", issuedAt: now });
  assert.equal((await getPage(server, "/chat", good)).status, 200);

  const tampered = good.replace("session=", "session=x");
  const expired = await craftCookie({
    nickname: "carol",
    issuedAt: now - 8 * 24 * 3600 * 1000,
  });
  const future = await craftCookie({
    nickname: "carol",
    issuedAt: now + 3600 * 1000,
  });
  const wrong = await craftCookie({
    nickname: "carol",
    issuedAt: now,
    secret: "wrong-secret-0123456789-abcdefghijklmnop",
  });
  const garbage = [
    "session=%E0%A4%A",
    "session=" + "A".repeat(15000),
    "session=a.b.c.d",
    "session",
    "=;;;==",
  ];
  for (const cookie of [tampered, expired, future, wrong, ...garbage]) {
    const res = await getPage(server, "/chat", cookie);
    assert.equal(res.status, 303, `cookie ${cookie.slice(0, 60)}`);
    const ws = await getPage(server, "/ws", cookie);
    assert.notEqual(ws.status, 500);
  }
});

Deno.test("readSession() accepts a cookie signed by an older secret after rotation", async () => {
  let cookie: string;
  {
    await using old = await startServer({ COOKIE_SECRET: OTHER_SECRET });
    cookie = await loginOk(old, "dave");
  }
  await using rotated = await startServer({
    COOKIE_SECRET: `${SECRET},${OTHER_SECRET}`,
  });
  assert.equal((await getPage(rotated, "/chat", cookie)).status, 200);
  const fresh = await login(rotated, "erin");
  await using check = await startServer({ COOKIE_SECRET: SECRET });
  // The first secret signs new cookies.
  assert.equal((await getPage(check, "/chat", fresh.cookie)).status, 200);
  assert.equal((await getPage(check, "/chat", cookie)).status, 303);
});

Deno.test("POST /logout frees the nickname, clears the cookie and closes the session's sockets", async () => {
  await using server = await startServer();
  const cookie = await loginOk(server, "frank");
  const watcher = await server.join("gina");
  const tab1 = await server.joinWith(cookie);
  const tab2 = await server.joinWith(cookie);
  await watcher.waitForNotice("join", "frank");
  const res = await logout(server, cookie);
  assert.equal(res.status, 303);
  assert.equal(res.headers.get("location"), "/login");
  assert.match(res.headers.get("set-cookie") ?? "", /Max-Age=0/);
  assert.equal((await tab1.closed).code, 4401);
  assert.equal((await tab2.closed).code, 4401);
  await watcher.waitForNotice("leave", "frank");
  // A copy of the old cookie is refused everywhere after logout.
  assert.equal((await getPage(server, "/chat", cookie)).status, 303);
  await assert.rejects(TestClient.open(server, cookie));
  const again = await login(server, "Frank");
  assert.equal(again.status, 303);
  // A barrier: once this arrives, any second leave would have arrived too.
  const other = await server.joinWith(again.cookie);
  await barrier(other, [watcher]);
  assert.equal(count(watcher, "leave", "frank"), 1);
});

Deno.test("rendered pages escape a nickname like <b>x</b>", async () => {
  await using server = await startServer();
  const cookie = await loginOk(server, "<b>x</b>");
  const { body } = await getPage(server, "/chat", cookie);
  assert.doesNotMatch(body, /<b>x<\/b>/);
  assert.match(body, /&lt;b&gt;x&lt;\/b&gt;/);
  const taken = await login(server, "<b>x</b>");
  assert.equal(taken.status, 409);
  assert.doesNotMatch(taken.body, /<b>x<\/b>/);
});
