import assert from "node:assert/strict";
import { loginOk, spawnServer, TestClient } from "./helpers/harness.ts";

Deno.test("a message confirmed just before a SIGKILL is still there after restart", async () => {
  const dir = await Deno.makeTempDir();
  const env = { KV_PATH: `${dir}/chat.db` };
  try {
    const first = await spawnServer(env);
    let id: number;
    try {
      const cookie = await loginOk(first, "survivor");
      const c = await TestClient.join(first, cookie);
      c.send({ type: "message", text: "written in stone", cid: "k1" });
      const confirmed = await c.waitForText("written in stone");
      id = confirmed.id;
      // No goodbye: the process dies at once, mid-connection.
      const status = await first.stop("SIGKILL");
      assert.equal(status.signal, "SIGKILL");
      await c.closed;
    } finally {
      await first.stop("SIGKILL");
    }
    const second = await spawnServer(env);
    try {
      const c = await TestClient.join(second, await loginOk(second, "witness"));
      const history = c.welcome.history;
      assert.equal(history.length, 1);
      assert.equal(history[0].text, "written in stone");
      assert.equal(history[0].id, id);
      assert.equal(c.welcome.seq, id);
      await c.close();
    } finally {
      await second.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
