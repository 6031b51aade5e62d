/**
 * Moderation test plumbing: a MODERATORS value with a cheap hash, logins
 * with a password, and a moderator's socket.
 *
 * @module
 */
import type { Page } from "playwright-core";
import { hashPassword } from "../../lib/auth/passwords.ts";
import {
  type Login,
  login,
  type ServerEvent,
  TestClient,
  type TestServer,
} from "./harness.ts";

/** The configured moderator's nickname and password in these tests. */
export const MOD_NAME = "Alice";
/** Its password: it must never show up in a log or a page. */
export const MOD_PASSWORD = "correct-horse-battery-staple-7391";

// The lowest cost the config accepts keeps each login fast.
const HASH = await hashPassword(MOD_PASSWORD, { iterations: 1000 });

/** The environment of a chat with one moderator, Alice. */
export const MOD_ENV: Record<string, string> = {
  MODERATORS: `${MOD_NAME}:${HASH}`,
  RATE_BURST: "1000",
  RATE_PER_SECOND: "1000",
};

/** Posts the login form with a password field, as the page does once it is shown. */
export function loginWithPassword(
  server: { origin: string },
  nickname: string,
  password: string | undefined,
): Promise<Login> {
  return login(server, nickname, { password });
}

/** Logs Alice in with her password and joins `room`; fails unless it worked. */
export async function joinAsModerator(
  server: { origin: string },
  options: { room?: string } = {},
): Promise<TestClient> {
  const result = await loginWithPassword(server, MOD_NAME, MOD_PASSWORD);
  if (result.status !== 303) {
    throw new Error(`Moderator login failed: ${result.status}`);
  }
  return await TestClient.join(server, result.cookie, options);
}

/** Sends a `mod` frame and waits for its answer (mod_ok or an error). */
export async function moderate(
  client: TestClient,
  frame: Record<string, unknown>,
): Promise<ServerEvent> {
  const from = client.events.length;
  client.send({ type: "mod", ...frame });
  return await client.waitFor(
    (e) => e.type === "mod_ok" || e.type === "error",
    { from, what: `the answer to ${JSON.stringify(frame)}` },
  );
}

/** What an upgrade with `cookie` is answered; fetch cannot upgrade, so through the app itself. */
export async function upgradeStatus(
  server: TestServer,
  cookie: string,
): Promise<{ status: number; body: string; retryAfter: string | null }> {
  const res = await server.chat.app.fetch(
    new Request(`${server.url}/ws`, {
      headers: { upgrade: "websocket", connection: "Upgrade", cookie },
    }),
  );
  return {
    status: res.status,
    body: await res.text(),
    retryAfter: res.headers.get("retry-after"),
  };
}

/**
 * Logs Alice in on `page` through the login form, password step included,
 * and waits for the chat. The form's 401 is a console error the test must
 * allow (`scene.watcher.allowed.push(/status of 401/)`).
 */
export async function moderatorPage(page: Page, origin: string): Promise<void> {
  await page.goto(`${origin}/login`);
  await page.fill("#nickname", MOD_NAME);
  await Promise.all([
    page.waitForResponse((r) => r.url() === `${origin}/login`),
    page.click(".login-form button[type=submit]"),
  ]);
  await page.fill("#password", MOD_PASSWORD);
  await Promise.all([
    page.waitForURL(`${origin}/chat`),
    page.click(".login-form button[type=submit]"),
  ]);
  await page.locator("#conn-badge.badge-connected").waitFor();
}
