/**
 * What can be checked here of the deployment files, which Docker and systemd
 * cannot run on this machine: each starts the server the way `deno task
 * start` does, with the same permissions, and as a user that is not root.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url).pathname;

async function read(path: string): Promise<string> {
  return await Deno.readTextFile(`${ROOT}${path}`);
}

/** `deno task start`'s words after `deno`: `run`, the permission flags, `main.ts`. */
async function startTask(): Promise<string[]> {
  const config = JSON.parse(await read("deno.json"));
  const words = String(config.tasks.start).split(/\s+/);
  assert.deepEqual(words.slice(0, 2), ["deno", "run"]);
  assert.equal(words.at(-1), "main.ts");
  assert.ok(!words.includes("-A") && !words.includes("--allow-all"));
  return words.slice(1);
}

/** The lines of a Dockerfile with `\` continuations joined. */
function dockerLines(text: string): string[] {
  return text.replace(/\\\n/g, " ").split("\n").map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

function onPath(name: string): boolean {
  const dirs = (Deno.env.get("PATH") ?? "").split(":");
  return dirs.some((dir) => {
    try {
      return Deno.statSync(`${dir}/${name}`).isFile;
    } catch {
      return false;
    }
  });
}

Deno.test("Dockerfile: the official Deno 2 image, deno task start's command, not root", async () => {
  const lines = dockerLines(await read("Dockerfile"));
  const from = lines.find((l) => l.startsWith("FROM "));
  assert.match(from ?? "", /^FROM denoland\/deno:2\.\d+\.\d+$/);

  const cmd = lines.filter((l) => l.startsWith("CMD "));
  assert.equal(cmd.length, 1);
  const command = JSON.parse(cmd[0].slice(4));
  assert.deepEqual(command, ["deno", ...await startTask()]);

  // The last USER before CMD is who runs it.
  const users = lines.slice(0, lines.indexOf(cmd[0]))
    .filter((l) => l.startsWith("USER "));
  const user = users.at(-1)?.slice(5).trim();
  assert.ok(user, "the Dockerfile sets no USER: the server would run as root");
  assert.doesNotMatch(user, /^(root|0)(:|$)/);

  assert.ok(lines.includes("VOLUME /app/data"));
  const env = lines.filter((l) => l.startsWith("ENV ")).join(" ");
  assert.match(env, /KV_PATH=\/app\/data\/chat\.db/);
  assert.match(env, /HOST=0\.0\.0\.0/);
  assert.doesNotMatch(env, /HOSTNAME=/);
  const health = lines.find((l) => l.startsWith("HEALTHCHECK "));
  assert.match(health ?? "", /\/healthz/);
  assert.ok(
    lines.some((l) => /^RUN deno install --entrypoint main\.ts/.test(l)),
    "dependencies are cached at build",
  );
});

Deno.test("compose.yaml: the chat on every core with Redis, checked on /healthz, behind Caddy", async () => {
  const compose = await read("compose.yaml");
  for (const service of ["chat", "redis", "caddy"]) {
    assert.match(compose, new RegExp(`^  ${service}:$`, "m"));
  }
  assert.match(compose, /^ {6}WORKERS: auto$/m);
  assert.match(compose, /^ {6}REDIS_URL: redis:\/\/redis:6379$/m);
  assert.match(compose, /^ {6}KV_PATH: \/app\/data\/chat\.db$/m);
  assert.match(compose, /- chat-data:\/app\/data/);
  assert.match(compose, /healthcheck:[\s\S]*127\.0\.0\.1:8000\/healthz/);
  assert.match(compose, /COOKIE_SECRET: \$\{COOKIE_SECRET:\?/);
  assert.match(
    compose,
    /\.\/docs\/deploy\/Caddyfile:\/etc\/caddy\/Caddyfile:ro/,
  );
  await Deno.stat(`${ROOT}docs/deploy/Caddyfile`);
});

Deno.test("chat.service: deno task start's command, its own user, state kept, restarted on failure", async () => {
  const unit = await read("docs/deploy/chat.service");
  const settings = new Map<string, string[]>();
  for (const line of unit.split("\n")) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (match) {
      settings.set(match[1], [...settings.get(match[1]) ?? [], match[2]]);
    }
  }
  const one = (key: string) => {
    const values = settings.get(key) ?? [];
    assert.equal(values.length, 1, `${key}= should be set once`);
    return values[0];
  };
  const exec = one("ExecStart").split(/\s+/);
  assert.match(exec[0], /^\/.*\/deno$/);
  assert.deepEqual(exec.slice(1), await startTask());
  assert.ok(
    one("DynamicUser") === "yes" || !/^(root|0)$/.test(one("User")),
    "the service must not run as root",
  );
  assert.equal(one("Restart"), "on-failure");
  assert.ok(Number(one("LimitNOFILE")) >= 10_000);
  assert.equal(one("StateDirectory"), "deno-chat");
  // The state directory is where the start task may write: ./data.
  const dir = one("WorkingDirectory");
  assert.equal(one("BindPaths"), `%S/deno-chat:${dir}/data`);
  assert.ok(settings.get("Environment")?.includes("KV_PATH=./data/chat.db"));
});

Deno.test({
  name: "chat.service passes systemd-analyze verify",
  ignore: !onPath("systemd-analyze"),
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.copyFile(
        `${ROOT}docs/deploy/chat.service`,
        `${dir}/deno-chat.service`,
      );
      const out = await new Deno.Command("systemd-analyze", {
        args: ["verify", `${dir}/deno-chat.service`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, text);
      assert.doesNotMatch(text, /deno-chat\.service/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "docs/deploy/Caddyfile is a valid Caddy config (caddy validate)",
  ignore: !onPath("caddy"),
  async fn() {
    const out = await new Deno.Command("caddy", {
      args: [
        "validate",
        "--adapter",
        "caddyfile",
        "--config",
        `${ROOT}docs/deploy/Caddyfile`,
      ],
      env: { CHAT_DOMAIN: "chat.example.org", CHAT_UPSTREAM: "chat:8000" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stderr) +
      new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, text);
    assert.match(text, /Valid configuration/);
  },
});

Deno.test("deno.lock holds only what the server loads: no test or Redis packages", async () => {
  const config = JSON.parse(await read("deno.json"));
  const scoped = new Set<string>();
  for (const scope of Object.values(config.scopes ?? {})) {
    for (const specifier of Object.values(scope as Record<string, string>)) {
      scoped.add(/^npm:(@?[^@]+)/.exec(specifier)![1]);
    }
  }
  assert.ok(scoped.has("playwright-core") && scoped.has("redis"));
  const lock = JSON.parse(await read("deno.lock"));
  const packages = Object.keys(lock.npm ?? {}).map((key) =>
    /^(@?[^@]+)@/.exec(key)![1]
  );
  const leaked = packages.filter((name) =>
    scoped.has(name) || name.startsWith("@redis/")
  );
  assert.deepEqual(
    leaked,
    [],
    `deno.lock lists ${leaked.join(", ")}: deno task start would download ` +
      "them. A plain `deno check`/`deno test` wrote them there; restore it " +
      "(git checkout deno.lock) and use deno task check / deno task test, " +
      "which keep their packages in tests/deno.lock",
  );
});
