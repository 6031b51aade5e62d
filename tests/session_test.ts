import assert from "node:assert/strict";
import fc from "fast-check";
import { Hono } from "hono";
import { getSignedCookie, setSignedCookie } from "hono/cookie";
import {
  decodeSession,
  encodeSession,
  readSession,
  type Session,
  writeSession,
} from "../lib/auth/session.ts";
import { SECRET } from "./helpers/harness.ts";

const MAX_AGE = 7 * 24 * 3600;

// A tiny app over the real cookie code: /set writes a session, /get reads one.
function cookieApp(session: Session): Hono {
  const app = new Hono();
  app.get("/set", async (c) => {
    await writeSession(c, session, { secret: SECRET, maxAgeSeconds: MAX_AGE });
    return c.text("ok");
  });
  app.get("/get", async (c) => {
    const s = await readSession(c, {
      secrets: [SECRET],
      maxAgeSeconds: MAX_AGE,
    });
    return c.json(s ?? null);
  });
  return app;
}

async function issue(app: Hono): Promise<string> {
  const res = await app.request("/set");
  return res.headers.get("set-cookie")!.split(";")[0];
}

async function read(app: Hono, cookie: string): Promise<Session | null> {
  return await (await app.request("/get", { headers: { cookie } })).json();
}

const nicknameArb = fc.string({
  unit: "grapheme",
  minLength: 1,
  maxLength: 24,
});

Deno.test("encodeSession() and decodeSession() round-trip any nickname", () => {
  fc.assert(
    fc.property(
      nicknameArb,
      fc.integer({ min: 0, max: 2 ** 45 }),
      (nickname, issuedAt) => {
        const session = { sid: "AAAAAAAAAAAAAAAAAAAAAA", nickname, issuedAt };
        assert.deepEqual(decodeSession(encodeSession(session)), session);
      },
    ),
  );
});

Deno.test("readSession() rejects a cookie with any single bit flipped", async () => {
  const session = {
    sid: "q1w2e3r4t5y6u7i8o9p0aa",
    nickname: "Zoë 小明",
    issuedAt: Date.now(),
  };
  const app = cookieApp(session);
  const cookie = await issue(app);
  assert.deepEqual(await read(app, cookie), session);
  const start = "session=".length;
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: start, max: cookie.length - 1 }),
      fc.integer({ min: 0, max: 6 }),
      async (index, bit) => {
        const flipped = String.fromCharCode(
          cookie.charCodeAt(index) ^ (1 << bit),
        );
        // Header values cannot carry control characters; fetch refuses them.
        fc.pre(flipped >= " " && flipped !== "\x7f" && flipped !== ";");
        const tampered = cookie.slice(0, index) + flipped +
          cookie.slice(index + 1);
        assert.equal(await read(app, tampered), null, tampered);
      },
    ),
    { numRuns: 400 },
  );
  // Every position and bit, exhaustively, since the cookie is short.
  for (let index = start; index < cookie.length; index++) {
    for (let bit = 0; bit < 7; bit++) {
      const flipped = String.fromCharCode(
        cookie.charCodeAt(index) ^ (1 << bit),
      );
      if (flipped < " " || flipped === "\x7f" || flipped === ";") continue;
      const tampered = cookie.slice(0, index) + flipped +
        cookie.slice(index + 1);
      assert.equal(await read(app, tampered), null, tampered);
    }
  }
});

Deno.test("readSession() treats arbitrary Cookie headers as no session", async () => {
  const app = cookieApp({
    sid: "q1w2e3r4t5y6u7i8o9p0aa",
    nickname: "a",
    issuedAt: 1,
  });
  await fc.assert(
    fc.asyncProperty(fc.string({ maxLength: 300 }), async (junk) => {
      const header = `session=${junk}`.replace(/\p{Cc}/gu, "");
      const res = await app.request("/get", { headers: { cookie: header } });
      assert.equal(res.status, 200);
      assert.equal(await res.json(), null);
    }),
    { numRuns: 200 },
  );
});

Deno.test("readSession() rejects a cookie issued in the future or past its max age", async () => {
  const now = Date.now();
  for (
    const [issuedAt, ok] of [
      [now, true],
      [now - MAX_AGE * 1000 + 5000, true],
      [now - MAX_AGE * 1000 - 5000, false],
      [now + 3600_000, false],
    ] as const
  ) {
    const session = { sid: "q1w2e3r4t5y6u7i8o9p0aa", nickname: "t", issuedAt };
    const app = cookieApp(session);
    const got = await read(app, await issue(app));
    assert.equal(got !== null, ok, `issuedAt ${issuedAt - now} ms from now`);
  }
});

// The server signs with a cached key; cookies hono/cookie signed before
// must keep working, and hono/cookie must accept ours, over HTTP and HTTPS.
Deno.test("session cookies stay compatible with hono/cookie's signed cookies both ways", async () => {
  const session: Session = {
    sid: "BBBBBBBBBBBBBBBBBBBBBB",
    nickname: "Zoë 测试 <b>",
    issuedAt: Date.now(),
  };
  const app = cookieApp(session);
  const options = { secrets: [SECRET], maxAgeSeconds: MAX_AGE };
  app.get("/old-set", async (c) => {
    const https = c.req.query("https") !== undefined;
    await setSignedCookie(c, "session", encodeSession(session), SECRET, {
      httpOnly: true,
      path: "/",
      sameSite: "Lax",
      maxAge: MAX_AGE,
      ...(https ? { secure: true, prefix: "host" as const } : {}),
    });
    return c.text("ok");
  });
  app.get("/new-set", async (c) => {
    await writeSession(c, session, { secret: SECRET, maxAgeSeconds: MAX_AGE });
    return c.text("ok");
  });
  app.get("/old-get", async (c) => {
    const prefix = c.req.url.startsWith("https:") ? "host" : undefined;
    return c.json(await getSignedCookie(c, SECRET, "session", prefix) ?? null);
  });
  app.get(
    "/new-get",
    async (c) => c.json(await readSession(c, options) ?? null),
  );
  for (const origin of ["http://localhost", "https://localhost"]) {
    const query = origin.startsWith("https") ? "?https" : "";
    const oldHeader = (await app.request(`${origin}/old-set${query}`)).headers
      .get("set-cookie")!;
    const newHeader = (await app.request(`${origin}/new-set`)).headers.get(
      "set-cookie",
    )!;
    // Same session, same secret, same bytes: the format did not change.
    assert.equal(newHeader, oldHeader);
    const cookie = oldHeader.split(";")[0];
    const get = async (path: string, header: string) =>
      await (await app.request(`${origin}${path}`, {
        headers: { cookie: header },
      })).json();
    assert.deepEqual(await get("/new-get", cookie), session);
    assert.equal(
      await get("/old-get", newHeader.split(";")[0]),
      encodeSession(session),
    );
    // And a signature from another secret fails both ways.
    const other = cookie.replace(/\.[^.]*$/, ".") +
      encodeURIComponent(
        btoa(String.fromCharCode(...new Uint8Array(32).fill(7))),
      );
    assert.equal(await get("/new-get", other), null);
    assert.equal(await get("/old-get", other), false);
  }
});
