import assert from "node:assert/strict";
import {
  getPage,
  login,
  loginOk,
  logout,
  startServer,
} from "./helpers/harness.ts";
import { openFaultyKv } from "./helpers/kv_faults.ts";
import { t } from "../lib/web/i18n.ts";

const DISK_FULL = "No space left on device (os error 28)";

Deno.test("KV writes failing: logout still clears the cookie and answers 303", async () => {
  using store = await openFaultyKv();
  await using server = await startServer({}, { kv: store.kv });
  const cookie = await loginOk(server, "ann");
  store.failWrites(DISK_FULL);
  const res = await logout(server, cookie);
  assert.equal(res.status, 303);
  assert.equal(res.headers.get("location"), "/login");
  assert.match(res.headers.get("set-cookie") ?? "", /^session=;.*Max-Age=0/);
  assert.ok(server.logs.some((line) => line.includes(DISK_FULL)));
  assert.ok(!server.logs.some((line) => line.includes("Unhandled error")));

  // Healed: a logout is recorded again, so the old cookie stops working.
  store.heal();
  const fresh = await loginOk(server, "bob");
  assert.equal((await logout(server, fresh)).status, 303);
  const after = await getPage(server, "/chat", fresh);
  assert.equal(after.status, 303);
  assert.equal(after.headers.get("location"), "/login");
});

Deno.test("KV writes failing: login answers 503 with a hint, and works once KV heals", async () => {
  using store = await openFaultyKv();
  await using server = await startServer({}, { kv: store.kv });
  store.failWrites(DISK_FULL);
  const refused = await login(server, "ann");
  assert.equal(refused.status, 503);
  assert.equal(refused.setCookie, null);
  assert.ok(refused.body.includes(t("en", "hint_store_unavailable")));
  assert.match(refused.body, /value="ann"/);
  assert.ok(!refused.body.includes(DISK_FULL), "no storage detail on the page");
  assert.ok(!server.logs.some((line) => line.includes("Unhandled error")));

  // A logged-in browser logging in again fails the same way, cookie kept.
  store.heal();
  const cookie = await loginOk(server, "bob");
  store.failWrites(DISK_FULL);
  const again = await login(server, "bob", { cookie });
  assert.equal(again.status, 503);
  assert.equal(again.setCookie, null);

  // Healed: the name refused earlier was never half-claimed.
  store.heal();
  assert.equal((await login(server, "ann")).status, 303);
  assert.equal((await login(server, "bob", { cookie })).status, 303);
});
