/**
 * The signed session cookie, in hono/cookie's signed format (value, ".",
 * base64 HMAC-SHA256, URI-encoded), plus what signing alone lacks (issue
 * time, max age, rotation). It signs and verifies with keys imported once
 * per secret (cookie_keys.ts) rather than through setSignedCookie and
 * getSignedCookie, which import the key again on every call.
 *
 * @module
 */
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { signValue, verifyValue } from "./cookie_keys.ts";

/** Who a browser is: a random session id, its nickname and when it logged in. */
export interface Session {
  sid: string;
  nickname: string;
  /** Milliseconds since the epoch. */
  issuedAt: number;
}

/** Cookie name; `__Host-` is prefixed by hono/cookie over HTTPS. */
export const SESSION_COOKIE = "session";

/** How a session cookie is checked: the secrets to try and how old it may be. */
export interface SessionOptions {
  secrets: string[];
  maxAgeSeconds: number;
  now?: () => number;
}

/** What {@linkcode currentSession} checks: the cookie and the logged-out list. */
export interface CurrentSessionOptions extends SessionOptions {
  revocations: { isRevoked(sid: string): Promise<boolean> };
}

// A minute of clock skew between instances is tolerated, no more.
const FUTURE_SKEW_MS = 60_000;
const SID_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;

function bytesToBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(
    /=+$/,
    "",
  );
}

function toBase64Url(text: string): string {
  return bytesToBase64Url(new TextEncoder().encode(text));
}

function fromBase64Url(text: string): string | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  try {
    const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
    const bytes = Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
    const decoded = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    // Reject non-canonical encodings so one value has exactly one spelling.
    return toBase64Url(decoded) === text ? decoded : undefined;
  } catch {
    return undefined;
  }
}

/** A fresh unguessable session id (128 random bits, base64url). */
export function newSessionId(): string {
  return bytesToBase64Url(crypto.getRandomValues(new Uint8Array(16)));
}

/** Serialises a session into the cookie's (unsigned) value. */
export function encodeSession(session: Session): string {
  return `${session.sid}.${session.issuedAt.toString(36)}.${
    toBase64Url(session.nickname)
  }`;
}

/** Parses a cookie's value back into a session, or undefined when malformed. */
export function decodeSession(value: string): Session | undefined {
  const parts = value.split(".");
  if (parts.length !== 3) return undefined;
  const [sid, issued, nick] = parts;
  if (!SID_PATTERN.test(sid) || !/^[0-9a-z]{1,12}$/.test(issued)) {
    return undefined;
  }
  const issuedAt = parseInt(issued, 36);
  const nickname = fromBase64Url(nick);
  if (!Number.isSafeInteger(issuedAt) || nickname === undefined || !nickname) {
    return undefined;
  }
  if (issuedAt.toString(36) !== issued) return undefined;
  return { sid, nickname, issuedAt };
}

/** Whether a decoded session is within its lifetime at `now`. */
export function isSessionFresh(
  session: Session,
  options: { now: number; maxAgeSeconds: number },
): boolean {
  if (session.issuedAt > options.now + FUTURE_SKEW_MS) return false;
  return options.now - session.issuedAt <= options.maxAgeSeconds * 1000;
}

/** True when the request reached us over HTTPS, so the cookie must be Secure. */
export function isHttps(c: Context): boolean {
  return new URL(c.req.url).protocol === "https:";
}

function rawCookie(header: string, name: string): string | undefined {
  for (const pair of header.split(";")) {
    const eq = pair.indexOf("=");
    if (eq < 0) continue;
    if (pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * Only the one spelling this server writes is accepted. Percent-escapes
 * decode case-insensitively and atob ignores stray low bits in a final
 * character, so without this a flipped bit could still verify.
 */
function isCanonical(raw: string | undefined, decoded: string | undefined) {
  if (raw === undefined || decoded === undefined) return false;
  if (encodeURIComponent(decoded) !== raw) return false;
  const signature = decoded.slice(decoded.lastIndexOf(".") + 1);
  try {
    return btoa(atob(signature)) === signature;
  } catch {
    return false;
  }
}

/**
 * Reads and verifies the session cookie; any malformed, tampered, expired,
 * future-dated or unknown-secret cookie is treated as no session.
 */
export async function readSession(
  c: Context,
  options: SessionOptions,
): Promise<Session | undefined> {
  const prefix = isHttps(c) ? "host" : undefined;
  const header = c.req.header("cookie");
  // Browsers cap a cookie near 4 KiB; anything far larger is not ours.
  if (!header || header.length > 16384) return undefined;
  try {
    const decoded = getCookie(c, SESSION_COOKIE, prefix);
    if (decoded === undefined) return undefined;
    const dot = decoded.lastIndexOf(".");
    const signature = decoded.slice(dot + 1);
    // The shape hono/cookie's parser insists on before it verifies.
    if (dot < 0 || signature.length !== 44 || !signature.endsWith("=")) {
      return undefined;
    }
    const value = decoded.slice(0, dot);
    for (const secret of options.secrets) {
      if (!await verifyValue(value, { signature, secret })) continue;
      const name = prefix ? `__Host-${SESSION_COOKIE}` : SESSION_COOKIE;
      if (!isCanonical(rawCookie(header, name), decoded)) return undefined;
      const session = decodeSession(value);
      if (!session) return undefined;
      const now = (options.now ?? Date.now)();
      if (
        !isSessionFresh(session, { now, maxAgeSeconds: options.maxAgeSeconds })
      ) {
        return undefined;
      }
      return session;
    }
  } catch {
    // Malformed cookie bytes must never become a 500.
    return undefined;
  }
  return undefined;
}

/** Reads the session cookie and refuses sessions that logged out. */
export async function currentSession(
  c: Context,
  options: CurrentSessionOptions,
): Promise<Session | undefined> {
  const session = await readSession(c, options);
  if (!session || await options.revocations.isRevoked(session.sid)) {
    return undefined;
  }
  return session;
}

/** Sets the signed session cookie with the first (current) secret. */
export async function writeSession(
  c: Context,
  session: Session,
  options: { secret: string; maxAgeSeconds: number },
): Promise<void> {
  const value = encodeSession(session);
  // setCookie URI-encodes the whole value, as setSignedCookie does.
  setCookie(
    c,
    SESSION_COOKIE,
    `${value}.${await signValue(value, options.secret)}`,
    {
      httpOnly: true,
      path: "/",
      sameSite: "Lax",
      maxAge: options.maxAgeSeconds,
      ...(isHttps(c) ? { secure: true, prefix: "host" as const } : {}),
    },
  );
}

/** Clears the session cookie (logout). */
export function clearSession(c: Context): void {
  deleteCookie(c, SESSION_COOKIE, {
    path: "/",
    httpOnly: true,
    sameSite: "Lax",
    ...(isHttps(c) ? { secure: true, prefix: "host" as const } : {}),
  });
}
