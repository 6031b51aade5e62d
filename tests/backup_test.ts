import assert from "node:assert/strict";
import {
  exportKv,
  ImportError,
  importKv,
  type ImportOptions,
} from "../lib/storage/backup.ts";
import { KEYS } from "../lib/storage/keys.ts";
import {
  getPage,
  HIGH_RATE,
  login,
  type ServerEvent,
  startServer,
  type TestClient,
} from "./helpers/harness.ts";
import { joinAsModerator, MOD_ENV, moderate } from "./helpers/moderation.ts";

const TTLS: ImportOptions = {
  messageTtlMs: 30 * 86_400_000,
  revocationTtlMs: 7 * 86_400_000,
};

async function* linesOf(lines: string[]): AsyncIterable<string> {
  yield* lines;
}

async function exported(kv: Deno.Kv): Promise<string[]> {
  const lines: string[] = [];
  await exportKv(kv, (line) => {
    lines.push(line);
  });
  return lines;
}

/** Posts `texts` from `client` and waits until each is confirmed. */
async function post(client: TestClient, texts: string[]): Promise<void> {
  for (const [i, text] of texts.entries()) {
    client.send({ type: "message", text, cid: `${client.nickname}-${i}` });
    await client.waitForText(text);
  }
}

function messages(events: ServerEvent[]): ServerEvent[] {
  return events.filter((e) => e.type === "message").map(
    ({ id, nickname, text, ts, cid }) => ({ id, nickname, text, ts, cid }),
  );
}

/** What a client resuming at `since` in `room` is sent: the welcome's history. */
async function resume(
  server: Awaited<ReturnType<typeof startServer>>,
  nickname: string,
  room: string,
  since: number,
  known?: string,
): Promise<{ seq: number; epoch: string; history: ServerEvent[] }> {
  const client = await server.join(nickname, { room, since, epoch: known });
  const { seq, epoch, history } = client.welcome;
  await client.close();
  return { seq, epoch, history: messages(history) };
}

Deno.test("export, import into a fresh KV: a resuming client gets the same history, ids and epoch", async () => {
  using source = await Deno.openKv(":memory:");
  using target = await Deno.openKv(":memory:");
  // HISTORY_ON_JOIN=0: only `since` brings history, so the check is on it.
  const env = { ...HIGH_RATE, HISTORY_ON_JOIN: "0" };
  const before: Record<
    string,
    { seq: number; epoch: string; history: ServerEvent[] }
  > = {};
  {
    await using old = await startServer(env, { kv: source });
    const ann = await old.join("ann");
    const bob = await old.join("bob", { room: "dev-talk" });
    await post(ann, ["hello lobby", "second", "third 中文"]);
    await post(bob, ["dev one", "dev two"]);
    for (const room of ["lobby", "dev-talk"]) {
      before[room] = await resume(old, `early-${room}`, room, 0);
    }
    await old.chat.services.endSession({
      sid: "gone-session",
      nickname: "ann",
      issuedAt: Date.now(),
    });
  }
  assert.equal(before.lobby.history.length, 3);
  assert.equal(before["dev-talk"].history.length, 2);
  // Each room's epoch travels with it, so pages open on the source resume.
  assert.notEqual(before.lobby.epoch, before["dev-talk"].epoch);

  const lines = await exported(source);
  const first = await importKv(target, linesOf(lines), TTLS);
  assert.deepEqual(
    { ...first, conflicts: first.conflicts },
    { rooms: 2, written: 5, skipped: 0, revoked: 1, conflicts: [] },
  );

  await using moved = await startServer(env, { kv: target });
  for (const room of ["lobby", "dev-talk"]) {
    assert.deepEqual(
      await resume(moved, `late-${room}`, room, 0),
      before[room],
    );
  }
  // Resuming in the middle gets exactly the rest.
  const tail = await resume(moved, "tail", "lobby", 1, before.lobby.epoch);
  assert.deepEqual(tail.history, before.lobby.history.slice(1));
  assert.equal((await target.get(KEYS.revoked("gone-session"))).value, true);

  // Run again: nothing is written, and the target exports as the source did.
  const again = await importKv(target, linesOf(lines), TTLS);
  assert.equal(again.written, 0);
  assert.equal(again.revoked, 0);
  assert.deepEqual(again.conflicts, []);
  assert.deepEqual((await exported(target)).slice(1), lines.slice(1));

  // The next message continues the room's sequence.
  const carol = await moved.join("carol");
  await post(carol, ["after the move"]);
  const last = carol.events.find((e) => e.text === "after the move")!;
  assert.equal(last.id, before.lobby.seq + 1);
});

Deno.test("import never moves a head back: a target with newer messages keeps its room", async () => {
  using source = await Deno.openKv(":memory:");
  await source.atomic()
    .set(KEYS.head("lobby"), 2)
    .set(KEYS.message("lobby", 1), { nickname: "a", text: "1", ts: Date.now() })
    .set(KEYS.message("lobby", 2), { nickname: "a", text: "2", ts: Date.now() })
    .commit();
  const lines = await exported(source);
  using target = await Deno.openKv(":memory:");
  await importKv(target, linesOf(lines), TTLS);
  // The target goes on by itself, then the old export is imported again.
  const newer = { nickname: "b", text: "3", ts: Date.now() };
  await target.atomic().set(KEYS.head("lobby"), 3)
    .set(KEYS.message("lobby", 3), newer).commit();
  const result = await importKv(target, linesOf(lines), TTLS);
  assert.equal(result.written, 0);
  assert.deepEqual(result.conflicts, [
    "lobby: the target's head 3 is past the export's 2",
  ]);
  assert.equal((await target.get(KEYS.head("lobby"))).value, 3);
  assert.deepEqual((await target.get(KEYS.message("lobby", 3))).value, newer);

  // A target whose own history differs at the same ids is not overwritten.
  using other = await Deno.openKv(":memory:");
  const theirs = { nickname: "z", text: "theirs", ts: 1 };
  await other.atomic().set(KEYS.head("lobby"), 1)
    .set(KEYS.message("lobby", 1), theirs).commit();
  const clash = await importKv(other, linesOf(lines), TTLS);
  assert.deepEqual(clash.conflicts, ["lobby: message 1 differs in the target"]);
  assert.equal((await other.get(KEYS.head("lobby"))).value, 1);
  assert.deepEqual((await other.get(KEYS.message("lobby", 1))).value, theirs);
});

Deno.test("import keeps each message's expiry: one past HISTORY_TTL_DAYS is not brought back", async () => {
  const day = 86_400_000;
  const now = Date.now();
  const lines = [
    JSON.stringify({ kind: "header", format: "deno-chat-export", version: 1 }),
    JSON.stringify({ kind: "room", room: "lobby", head: 2 }),
    JSON.stringify({
      kind: "message",
      room: "lobby",
      id: 1,
      nickname: "a",
      text: "old",
      ts: now - 31 * day,
    }),
    JSON.stringify({
      kind: "message",
      room: "lobby",
      id: 2,
      nickname: "a",
      text: "new",
      ts: now - day,
    }),
  ];
  using kv = await Deno.openKv(":memory:");
  const result = await importKv(kv, linesOf(lines), {
    ...TTLS,
    now: () => now,
  });
  assert.equal(result.written, 1);
  assert.equal(result.skipped, 1);
  assert.equal((await kv.get(KEYS.message("lobby", 1))).value, null);
  assert.equal((await kv.get(KEYS.head("lobby"))).value, 2);
});

Deno.test("import refuses a bad line with its number and writes nothing of it", async () => {
  const header = JSON.stringify({
    kind: "header",
    format: "deno-chat-export",
    version: 1,
  });
  const room = JSON.stringify({ kind: "room", room: "lobby", head: 5 });
  const cases: [string[], RegExp][] = [
    [[room], /^Invalid line 1: expected the "deno-chat-export" header first$/],
    [[header, "{not json"], /^Invalid line 2: not JSON$/],
    [
      [header, JSON.stringify({ kind: "room", room: "Bad Room", head: 1 })],
      /^Invalid line 2: invalid room "Bad Room"$/,
    ],
    [
      [
        header,
        room,
        JSON.stringify({
          kind: "message",
          room: "lobby",
          id: 9,
          nickname: "a",
          text: "x",
          ts: 1,
        }),
      ],
      /^Invalid line 3: message id 9 of room "lobby" out of order or past its head 5$/,
    ],
    [[
      header,
      room,
      JSON.stringify({ kind: "message", room: "lobby", id: 1, text: "x" }),
    ], /^Invalid line 3: expected a message with id, nickname, text and ts$/],
    [[], /^Invalid export: no "deno-chat-export" header$/],
  ];
  for (const [lines, message] of cases) {
    using kv = await Deno.openKv(":memory:");
    await assert.rejects(
      importKv(kv, linesOf(lines), TTLS),
      (err: Error) => err instanceof ImportError && message.test(err.message),
    );
    assert.equal((await kv.get(KEYS.head("lobby"))).value, null);
  }
});

Deno.test("export, import into a fresh KV: a ban, a mute, a room's slow mode and topic and the audit log survive", async () => {
  using source = await Deno.openKv(":memory:");
  using target = await Deno.openKv(":memory:");
  let audit: unknown;
  {
    await using old = await startServer(MOD_ENV, { kv: source });
    const mod = await joinAsModerator(old);
    const steps = [
      { action: "ban", nickname: "mallory", duration: "1d", reason: "spam" },
      { action: "mute", nickname: "bob", duration: "1h" },
      { action: "slow", seconds: 30 },
      { action: "topic", text: "Be kind 友善" },
    ];
    for (const step of steps) {
      assert.equal((await moderate(mod, step)).type, "mod_ok");
    }
    audit = JSON.parse((await getPage(old, "/api/audit", mod.cookie)).body);
  }
  const lines = await exported(source);
  const kinds = lines.map((l) => JSON.parse(l).kind);
  for (const kind of ["ban", "mute", "room_rules", "audit"]) {
    assert.ok(kinds.includes(kind), `an export line of kind ${kind}`);
  }
  const summary = await importKv(target, linesOf(lines), TTLS);
  assert.deepEqual(summary.moderation, {
    bans: 1,
    mutes: 1,
    rooms: 1,
    audit: 4,
  });

  await using moved = await startServer(MOD_ENV, { kv: target });
  const banned = await login(moved, "mallory");
  assert.equal(banned.status, 403);
  const bob = await moved.join("bob");
  const rules = await bob.waitFor((e) => e.type === "room");
  assert.equal(rules.slowSeconds, 30);
  assert.equal(rules.topic, "Be kind 友善");
  assert.ok(rules.mutedUntil > Date.now(), "bob is still muted");
  bob.send({ type: "message", text: "let me speak", cid: "b-1" });
  assert.equal((await bob.waitFor((e) => e.type === "error")).code, "muted");
  const mod = await joinAsModerator(moved);
  const page = await getPage(moved, "/api/audit", mod.cookie);
  assert.deepEqual(JSON.parse(page.body), audit);

  // Run again: the target's own state stays, nothing is written twice.
  const again = await importKv(target, linesOf(lines), TTLS);
  assert.deepEqual(again.moderation, { bans: 0, mutes: 0, rooms: 0, audit: 0 });

  // A bad moderation line is refused with its number, and nothing of it written.
  const header = lines[0];
  const bad: [unknown, RegExp][] = [
    [
      { kind: "ban", ban: { nickname: "x" } },
      /^Invalid line 2: expected a ban with nickname, key, sids, ips, until, by and at$/,
    ],
    [
      { kind: "room_rules", room: "lobby", rules: { slowSeconds: 99999 } },
      /^Invalid line 2: expected rules with slowSeconds \(0 to 3600\)/,
    ],
    [
      { kind: "audit", entry: { id: "nope", at: 1, by: "a", action: "kick" } },
      /^Invalid line 2: expected an audit entry with id, at, by and action$/,
    ],
  ];
  for (const [line, message] of bad) {
    using kv = await Deno.openKv(":memory:");
    await assert.rejects(
      importKv(kv, linesOf([header, JSON.stringify(line)]), TTLS),
      (err: Error) => err instanceof ImportError && message.test(err.message),
    );
    assert.equal((await kv.get(KEYS.roomRules("lobby"))).versionstamp, null);
  }
});

async function task(
  name: string,
  args: string[],
  stdin?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command("deno", {
    args: ["task", "-q", name, ...args],
    cwd: new URL("../", import.meta.url).pathname,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const out = await child.output();
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test("deno task kv-export and kv-import copy a KV file under ./data with their own permissions", async () => {
  const dir = `data/backup-test-${crypto.randomUUID()}`;
  const root = new URL("../", import.meta.url).pathname;
  await Deno.mkdir(`${root}${dir}`, { recursive: true });
  try {
    {
      using kv = await Deno.openKv(`${root}${dir}/chat.db`);
      await kv.atomic().set(KEYS.head("lobby"), 1)
        .set(KEYS.message("lobby", 1), {
          nickname: "a",
          text: "hi",
          ts: Date.now(),
        })
        .commit();
    }
    const out = await task("kv-export", [`${dir}/chat.db`]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(
      out.stderr,
      /Exported 1 rooms, 1 messages and 0 ended sessions/,
    );
    assert.match(out.stderr, /Moderation: 0 bans, 0 mutes, 0 rooms' rules/);
    assert.equal(out.stdout.trim().split("\n").length, 3);

    const into = await task("kv-import", [`${dir}/copy.db`], out.stdout);
    assert.equal(into.code, 0, into.stderr);
    assert.match(into.stderr, /1 rooms, 1 messages written/);
    using copy = await Deno.openKv(`${root}${dir}/copy.db`);
    assert.equal(
      (await copy.get(KEYS.message("lobby", 1))).versionstamp !== null,
      true,
    );

    const missing = await task("kv-export", [`${dir}/nope.db`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Cannot export ".*nope\.db": no such KV file/);
    // Outside ./data the task has no permission: a clear error, not a file.
    const outside = await task("kv-import", ["/tmp/elsewhere.db"], out.stdout);
    assert.equal(outside.code, 1);
    assert.match(outside.stderr, /elsewhere\.db/);
  } finally {
    await Deno.remove(`${root}${dir}`, { recursive: true });
  }
});
