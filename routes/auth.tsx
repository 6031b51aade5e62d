/**
 * Login and logout: the nickname form, the signed session cookie, and
 * releasing the name again.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { csrf } from "hono/csrf";
import { nicknameKey, validateNickname } from "../lib/auth/nicknames.ts";
import {
  clearSession,
  currentSession,
  newSessionId,
  writeSession,
} from "../lib/auth/session.ts";
import type { Services } from "../lib/app/services.ts";
import { countRateLimited, spanned } from "../lib/app/telemetry.ts";
import { AddressLimiter } from "../lib/chat/limits.ts";
import { LoginPage } from "../templates/login_page.tsx";
import { clientAddress } from "./client_address.ts";
import { langOf } from "./lang.ts";
import { loginRefusal } from "./login_refusal.tsx";

/** Largest login or logout body accepted. */
export const MAX_FORM_BYTES = 4096;

/** Addresses whose login buckets are held at once; idle ones go first. */
export const MAX_LOGIN_ADDRESSES = 10000;

/** Seconds a login refused because KV failed asks the browser to wait. */
const STORE_RETRY_SECONDS = 5;

/** Routes for `/`, `/login` and `/logout`. */
export function authRoutes(services: Services): Hono {
  const { config, nicknames } = services;
  const sessionOptions = services.session;
  const app = new Hono();
  const logins = new AddressLimiter({
    burst: config.limits.loginBurst,
    perSecond: config.limits.loginPerMinute / 60,
    maxAddresses: MAX_LOGIN_ADDRESSES,
  });
  const limit = bodyLimit({
    maxSize: MAX_FORM_BYTES,
    onError: (c) => c.text("Payload Too Large", 413),
  });
  const sameOrigin = csrf({
    origin: (origin, c) =>
      origin === new URL(c.req.url).origin ||
      config.session.allowedOrigins.includes(origin),
  });

  app.get("/", async (c) => {
    const session = await currentSession(c, sessionOptions);
    return c.redirect(session ? "/chat" : "/login", 303);
  });

  app.get("/login", (c) => c.html(<LoginPage lang={langOf(c)} />));

  app.post("/login", spanned("chat.login"), sameOrigin, limit, async (c) => {
    const lang = langOf(c);
    // Each login mints a session with a message bucket of its own: without
    // this, rotating sessions would lift the per-user rate limit.
    const address = clientAddress(c, services.resolveAddress);
    const wait = logins.take(address, Date.now());
    if (wait > 0) {
      countRateLimited("logins");
      c.header("Retry-After", String(Math.ceil(wait)));
      return c.html(<LoginPage lang={lang} hint="too_many_logins" />, 429);
    }
    let raw: unknown;
    let password: unknown;
    try {
      const form = await c.req.parseBody();
      raw = form.nickname;
      password = form.password;
    } catch {
      raw = undefined;
    }
    const typed = typeof raw === "string" ? raw : "";
    const result = validateNickname(typeof raw === "string" ? raw : undefined);
    if (!result.ok) {
      return c.html(
        <LoginPage lang={lang} value={typed} hint={`nick_${result.problem}`} />,
        400,
      );
    }
    const sid = newSessionId();
    let claimed: boolean;
    // A moderator's name (or a look-alike) needs its password; bans refuse.
    let nickname = result.nickname;
    let moderator = false;
    try {
      const verdict = await services.moderation.login.check({
        nickname,
        password: typeof password === "string" ? password : undefined,
        address,
        sid: (await currentSession(c, sessionOptions))?.sid,
      });
      if (verdict.kind !== "ok") return loginRefusal(c, { lang, verdict });
      ({ nickname, moderator } = verdict);
      claimed = await claimFor(c, nickname, sid);
      if (claimed && moderator) {
        await services.moderation.grantRole(sid, nickname);
      }
    } catch (err) {
      // A full disk or a lost KV: a clear answer to retry, never a 500.
      services.log("Login failed: the store refused a write", {
        nickname,
        error: err instanceof Error ? err.message : String(err),
      }, { level: "warning" });
      c.header("Retry-After", String(STORE_RETRY_SECONDS));
      return c.html(
        <LoginPage lang={lang} value={typed} hint="store_unavailable" />,
        503,
      );
    }
    if (!claimed) {
      return c.html(
        <LoginPage lang={lang} value={typed} hint="nick_taken" />,
        409,
      );
    }
    await writeSession(c, { sid, nickname, issuedAt: Date.now() }, {
      secret: services.signingSecret,
      maxAgeSeconds: config.session.maxAgeSeconds,
    });
    services.log("Logged in", { nickname, moderator }, { level: "info" });
    return c.redirect("/chat", 303);
  });

  /**
   * Claims `nickname` for the new session `sid` and ends the session this
   * browser presented; false when someone else holds the name. Throws when
   * KV does.
   */
  async function claimFor(c: Context, nickname: string, sid: string) {
    const existing = await currentSession(c, sessionOptions);
    // Every login gets a new session id, so a cookie planted in this browser
    // before it (session fixation) dies with the session it names; the name
    // passes from that session to the new one.
    const sameName = existing &&
      nicknameKey(existing.nickname) === nicknameKey(nickname);
    const ok = await nicknames.claim(
      nickname,
      sid,
      config.nicknames.graceSeconds * 1000,
      { from: sameName ? existing.sid : undefined },
    );
    // The session this browser had ends, and a name it held is freed at once.
    if (ok && existing) await services.endSession(existing);
    return ok;
  }

  app.post("/logout", sameOrigin, limit, async (c) => {
    let session;
    try {
      session = await currentSession(c, sessionOptions);
      // A copy of the cookie must not come back after logout.
      if (session) await services.endSession(session);
    } catch (err) {
      // The browser still forgets the cookie; only a copy taken before
      // could come back, until it expires.
      services.log("Logout could not record the session as ended", {
        nickname: session?.nickname,
        error: err instanceof Error ? err.message : String(err),
      }, { level: "warning" });
    }
    if (session) {
      services.log("Logged out", { nickname: session.nickname }, {
        level: "info",
      });
    }
    clearSession(c);
    return c.redirect("/login", 303);
  });

  return app;
}
