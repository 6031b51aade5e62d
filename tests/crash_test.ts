import assert from "node:assert/strict";
import { joinAs, spawnServer, tempDir } from "./helpers/harness.ts";

Deno.test("a message confirmed just before a SIGKILL is still there after restart", async () => {
  await using dir = await tempDir("chat-crash-");
  const env = { KV_PATH: `${dir.path}/chat.db` };
  let id: number;
  {
    await using first = await spawnServer(env);
    await using c = await joinAs(first, "survivor");
    c.send({ type: "message", text: "written in stone", cid: "k1" });
    const confirmed = await c.waitForText("written in stone");
    id = confirmed.id;
    // No goodbye: the process dies at once, mid-connection.
    const status = await first.stop("SIGKILL");
    assert.equal(status.signal, "SIGKILL");
    await c.closed;
  }
  await using second = await spawnServer(env);
  await using c = await joinAs(second, "witness");
  const history = c.welcome.history;
  assert.equal(history.length, 1);
  assert.equal(history[0].text, "written in stone");
  assert.equal(history[0].id, id);
  assert.equal(c.welcome.seq, id);
});
