import assert from "node:assert/strict";
import { generateSignedCookie } from "hono/cookie";
import { encodeSession } from "../lib/auth/session.ts";
import {
  login,
  loginOk,
  SECRET,
  startServer,
  TestClient,
} from "./helpers/harness.ts";

const OTHER_SECRET = "another-secret-0123456789-abcdefghijklmnop";

async function get(url: string, cookie?: string): Promise<Response> {
  const res = await fetch(url, {
    redirect: "manual",
    headers: cookie ? { cookie } : {},
  });
  await res.body?.cancel();
  return res;
}

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
  const server = await startServer();
  try {
    const anon = await get(`${server.url}/`);
    assert.equal(anon.status, 303);
    assert.equal(anon.headers.get("location"), "/login");
    const cookie = await loginOk(server, "alice");
    const authed = await get(`${server.url}/`, cookie);
    assert.equal(authed.status, 303);
    assert.equal(authed.headers.get("location"), "/chat");
  } finally {
    await server.close();
  }
});

Deno.test("GET /login serves the form and a strict CSP", async () => {
  const server = await startServer();
  try {
    const res = await fetch(`${server.url}/login`);
    const html = await res.text();
    assert.equal(res.status, 200);
    assert.match(html, /<form[^>]*method="post"[^>]*action="\/login"/);
    assert.match(html, /<input[^>]*name="nickname"/);
    const csp = res.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(html, /https?:\/\/(?!127\.0\.0\.1)/);
  } finally {
    await server.close();
  }
});

Deno.test("POST /login sets an HttpOnly SameSite=Lax cookie and redirects to /chat", async () => {
  const server = await startServer();
  try {
    const result = await login(server, "  Alice  ");
    assert.equal(result.status, 303);
    const setCookie = result.setCookie ?? "";
    assert.match(setCookie, /^session=/);
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /Path=\//);
    assert.match(setCookie, /SameSite=Lax/);
    assert.doesNotMatch(setCookie, /Secure/);
    const chat = await fetch(`${server.url}/chat`, {
      headers: { cookie: result.cookie },
    });
    const html = await chat.text();
    assert.equal(chat.status, 200);
    assert.match(html, /Alice/);
  } finally {
    await server.close();
  }
});

Deno.test("POST /login over HTTPS uses the __Host- prefix and Secure", async () => {
  const server = await startServer();
  try {
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
  } finally {
    await server.close();
  }
});

Deno.test("POST /login rejects invalid nicknames with 400, a hint and no cookie", async () => {
  const server = await startServer();
  try {
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
  } finally {
    await server.close();
  }
});

Deno.test("POST /login answers 409 and no cookie for a taken nickname, in any case", async () => {
  const server = await startServer();
  try {
    await loginOk(server, "Bob");
    for (const name of ["Bob", "bob", "BOB"]) {
      const result = await login(server, name);
      assert.equal(result.status, 409);
      assert.equal(result.setCookie, null);
      assert.match(result.body, /role="alert"/);
    }
  } finally {
    await server.close();
  }
});

Deno.test("POST /login rejects cross-site posts with 403 and bodies over 4 KiB with 413", async () => {
  const server = await startServer();
  try {
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
  } finally {
    await server.close();
  }
});

Deno.test("GET /chat redirects to /login without a valid session", async () => {
  const server = await startServer();
  try {
    const res = await get(`${server.url}/chat`);
    assert.equal(res.status, 303);
    assert.equal(res.headers.get("location"), "/login");
  } finally {
    await server.close();
  }
});

Deno.test("readSession() rejects tampered, expired, future-dated and unknown-secret cookies", async () => {
  const server = await startServer({
    COOKIE_SECRET: `${SECRET},${OTHER_SECRET}`,
  });
  try {
    const now = Date.now();
    const good = await craftCookie({ nickname: "carol", issuedAt: now });
    assert.equal((await get(`${server.url}/chat`, good)).status, 200);

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
      const res = await get(`${server.url}/chat`, cookie);
      assert.equal(res.status, 303, `cookie ${cookie.slice(0, 60)}`);
      const ws = await get(`${server.url}/ws`, cookie);
      assert.notEqual(ws.status, 500);
    }
  } finally {
    await server.close();
  }
});

Deno.test("readSession() accepts a cookie signed by an older secret after rotation", async () => {
  const old = await startServer({ COOKIE_SECRET: OTHER_SECRET });
  let cookie: string;
  try {
    cookie = await loginOk(old, "dave");
  } finally {
    await old.close();
  }
  const rotated = await startServer({
    COOKIE_SECRET: `${SECRET},${OTHER_SECRET}`,
  });
  try {
    assert.equal((await get(`${rotated.url}/chat`, cookie)).status, 200);
    const fresh = await login(rotated, "erin");
    const check = await startServer({ COOKIE_SECRET: SECRET });
    try {
      // The first secret signs new cookies.
      assert.equal((await get(`${check.url}/chat`, fresh.cookie)).status, 200);
      assert.equal((await get(`${check.url}/chat`, cookie)).status, 303);
    } finally {
      await check.close();
    }
  } finally {
    await rotated.close();
  }
});

Deno.test("POST /logout frees the nickname, clears the cookie and closes the session's sockets", async () => {
  const server = await startServer();
  try {
    const cookie = await loginOk(server, "frank");
    const watcher = await TestClient.join(
      server,
      await loginOk(server, "gina"),
    );
    const tab1 = await TestClient.join(server, cookie);
    const tab2 = await TestClient.join(server, cookie);
    await watcher.waitFor((e) => e.type === "join" && e.nickname === "frank");
    const res = await fetch(`${server.url}/logout`, {
      method: "POST",
      headers: {
        cookie,
        origin: server.origin,
        "content-type": "application/x-www-form-urlencoded",
      },
      redirect: "manual",
    });
    await res.body?.cancel();
    assert.equal(res.status, 303);
    assert.equal(res.headers.get("location"), "/login");
    assert.match(res.headers.get("set-cookie") ?? "", /Max-Age=0/);
    assert.equal((await tab1.closed).code, 4401);
    assert.equal((await tab2.closed).code, 4401);
    await watcher.waitFor((e) => e.type === "leave" && e.nickname === "frank");
    // A copy of the old cookie is refused everywhere after logout.
    assert.equal((await get(`${server.url}/chat`, cookie)).status, 303);
    await assert.rejects(TestClient.open(server, cookie));
    const again = await login(server, "Frank");
    assert.equal(again.status, 303);
    // A barrier: once this arrives, any second leave would have arrived too.
    const other = await TestClient.join(server, again.cookie);
    other.send({ type: "message", text: "barrier" });
    await watcher.waitForText("barrier");
    assert.equal(
      watcher.ofType("leave").filter((e) => e.nickname === "frank").length,
      1,
    );
    await other.close();
    await watcher.close();
  } finally {
    await server.close();
  }
});

Deno.test("rendered pages escape a nickname like <b>x</b>", async () => {
  const server = await startServer();
  try {
    const cookie = await loginOk(server, "<b>x</b>");
    const html = await (await fetch(`${server.url}/chat`, {
      headers: { cookie },
    })).text();
    assert.doesNotMatch(html, /<b>x<\/b>/);
    assert.match(html, /&lt;b&gt;x&lt;\/b&gt;/);
    const taken = await login(server, "<b>x</b>");
    assert.equal(taken.status, 409);
    assert.doesNotMatch(taken.body, /<b>x<\/b>/);
  } finally {
    await server.close();
  }
});
