/**
 * Helpers for the tests of edits, deletions, reactions and replies:
 * sending a change frame and waiting for what it produced.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { ServerEvent, TestClient } from "./harness.ts";

/** Posts `text` and returns the message as the sender got it back. */
export async function post(
  client: TestClient,
  text: string,
  extra: Record<string, unknown> = {},
): Promise<ServerEvent> {
  const from = client.events.length;
  client.send({ type: "message", text, ...extra });
  return await client.waitFor(
    (e) => e.type === "message" && e.text === text,
    { from, what: `the message ${JSON.stringify(text)}` },
  );
}

/** Sends `frame` and returns the next error frame it gets. */
export async function refused(
  client: TestClient,
  frame: unknown,
): Promise<ServerEvent> {
  const from = client.events.length;
  client.send(frame);
  return await client.waitFor((e) => e.type === "error", {
    from,
    what: `an error for ${JSON.stringify(frame)}`,
  });
}

/** Sends `frame` and fails unless it is refused with `code`. */
export async function expectRefused(
  client: TestClient,
  frame: unknown,
  code: string,
): Promise<void> {
  assert.equal(
    (await refused(client, frame)).code,
    code,
    JSON.stringify(frame),
  );
}

/** Sends `frame` and returns the event of `type` it produced, as `client` got it. */
export async function change(
  client: TestClient,
  frame: unknown,
  type: string,
): Promise<ServerEvent> {
  const from = client.events.length;
  client.send(frame);
  return await client.waitFor((e) => e.type === type || e.type === "error", {
    from,
    what: `the ${type} for ${JSON.stringify(frame)}`,
  });
}

/** A rate limit of `burst` messages that refills too slowly to matter in a test. */
export function slowRate(burst: number): Record<string, string> {
  return { RATE_BURST: String(burst), RATE_PER_SECOND: "0.01" };
}

/** `event` without its `ts`, which must be a number. */
export function withoutTs(event: ServerEvent): ServerEvent {
  const { ts, ...rest } = event;
  assert.equal(typeof ts, "number");
  return rest;
}

/** Changes (edit, delete, reaction) a client was sent. */
export function changes(client: TestClient): ServerEvent[] {
  return client.events.filter((e) =>
    e.type === "edit" || e.type === "delete" || e.type === "reaction"
  );
}
