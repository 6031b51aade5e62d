/**
 * The chat service: builds the app from a config, and serves it when run.
 *
 * @module
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { type Config, ConfigError, loadConfig } from "./lib/app/config.ts";
import type { Hub } from "./lib/chat/hub.ts";
import { configureLogging, defaultLog, errorText } from "./lib/app/log.ts";
import { configSummary } from "./lib/app/redact.ts";
import { startupFailure } from "./lib/app/startup.ts";
import { installCrashGuard } from "./lib/app/crash_guard.ts";
import { serveAndRelisten } from "./lib/app/relisten.ts";
import {
  type BuildOptions,
  buildServices,
  generateSecret,
  type Services,
} from "./lib/app/services.ts";
import { routeSpans } from "./lib/app/telemetry.ts";
import { authRoutes } from "./routes/auth.tsx";
import { chatRoutes } from "./routes/chat.tsx";
import { healthRoutes } from "./routes/health.ts";
import { messageRoutes } from "./routes/messages.ts";
import { staticRoutes } from "./routes/static.ts";
import { wsRoutes } from "./routes/ws.ts";
import { auditRoutes } from "./routes/audit.ts";
import { langOf } from "./routes/lang.ts";
import { NotFoundPage } from "./templates/not_found_page.tsx";
import { staticFiles } from "./lib/web/static_files.ts";
import { hostCheck } from "./lib/web/host_check.ts";
import { securityHeaders } from "./lib/web/security_headers.ts";

/** A built app: its Hono router, its room map and how to release it. */
export interface ChatApp {
  app: Hono;
  hub: Hub;
  kv: Deno.Kv;
  services: Services;
  /** Serves the app; {@linkcode ChatApp.close} then shuts this server down too. */
  serve(options: ServeOptions): Deno.HttpServer<Deno.NetAddr>;
  /**
   * Stops in the one safe order: every socket gets 1012, those frames leave,
   * the server stops, then the bus and the KV handle (unless passed in) close.
   */
  close(): Promise<void>;
}

/** Where {@linkcode ChatApp.serve} listens. */
export interface ServeOptions {
  port: number;
  hostname: string;
  onListen?: (addr: Deno.NetAddr) => void;
}

/** Options for {@linkcode createApp}. */
export type CreateAppOptions = BuildOptions;

/** Builds the whole app from a config; serving it is the caller's choice. */
export async function createApp(
  config: Config,
  options: CreateAppOptions = {},
): Promise<ChatApp> {
  const services = await buildServices(config, options);
  // Pages name their scripts by content hash, so read them before serving.
  await staticFiles();
  const { hub, kv } = services;
  const log = options.log ?? defaultLog;

  const app = new Hono();
  const { publicOrigin } = config.session;
  app.use("*", routeSpans());
  // Before every route, /ws upgrades included: DNS rebinding ends here.
  app.use(
    "*",
    hostCheck({
      publicOrigin,
      listenHostname: config.server.hostname,
      routedByHost: config.server.routedByHost,
    }),
  );
  app.use("*", securityHeaders({ publicOrigin }));
  app.route("/", staticRoutes());
  app.route("/", healthRoutes(services));
  app.route("/", authRoutes(services));
  app.route("/", chatRoutes(services));
  app.route("/", messageRoutes(services));
  app.route("/", wsRoutes(services));
  app.route("/", auditRoutes(services));
  app.notFound((c) => {
    const accept = c.req.header("accept") ?? "";
    if (!accept.includes("text/html")) return c.text("Not Found", 404);
    return c.html(NotFoundPage({ lang: langOf(c) }), 404);
  });
  app.onError((err, c) => {
    if (err instanceof HTTPException) return err.getResponse();
    log(
      `Unhandled error on ${c.req.method} ${c.req.path}`,
      { error: err.stack ?? String(err) },
    );
    return c.text("Internal Server Error", 500);
  });

  let closed = false;
  let server: Deno.HttpServer<Deno.NetAddr> | undefined;
  return {
    app,
    hub,
    kv,
    services,
    serve({ port, hostname, onListen }) {
      const current = Deno.serve(
        { port, hostname, onListen: onListen ?? (() => {}) },
        app.fetch,
      );
      server = current;
      // A listener that failed (out of descriptors) has nothing to shut down;
      // close() then stops whichever one listens now.
      current.finished.catch(() => {
        if (server === current) server = undefined;
      });
      return current;
    },
    async close() {
      if (closed) return;
      closed = true;
      hub.shutdown();
      if (server) {
        // server.shutdown() closes upgraded sockets with 1001 and would
        // overtake the 1012 frames queued this turn; let those go first.
        await new Promise((resolve) => setTimeout(resolve, 0));
        await server.shutdown();
      }
      await services.close();
    },
  };
}

/** Reads the config and sets up logging at its level; a bad value exits with one line per problem. */
function readConfig(): Config {
  let config: Config;
  try {
    config = loadConfig(Deno.env.toObject());
  } catch (err) {
    if (err instanceof ConfigError) {
      configureLogging({ level: "info" });
      for (const problem of err.problems) defaultLog(problem);
      Deno.exit(1);
    }
    throw err;
  }
  configureLogging({ level: config.log.level });
  return config;
}

/** Logs why the server cannot start, in one line, and exits with 1. */
function fail(err: unknown, config: Config): never {
  defaultLog(startupFailure(err, config));
  defaultLog("Start-up failure in detail", { error: errorText(err) }, {
    level: "debug",
  });
  Deno.exit(1);
}

function warnWithoutSecret(config: Config): void {
  if (config.session.secrets.length > 0) return;
  defaultLog(
    "COOKIE_SECRET is not set: using a random secret, so sessions will not survive a restart",
    {},
    { level: "warning" },
  );
}

/** Set for the workers that `deno serve --parallel` runs on our behalf. */
const WORKER_ENV = "CHAT_SERVE_WORKER";

function onSignal(stop: () => void): void {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    try {
      Deno.addSignalListener(signal, stop);
    } catch {
      // Some platforms (and Deploy) do not deliver every signal.
    }
  }
}

async function serve(): Promise<void> {
  const config = readConfig();
  installCrashGuard();
  warnWithoutSecret(config);
  if (config.server.workers > 1) return await serveParallel(config);
  let chat: ChatApp;
  let server: Deno.HttpServer<Deno.NetAddr>;
  let listened = false;
  const listen = () =>
    chat.serve({
      port: config.server.port,
      hostname: config.server.hostname,
      onListen({ hostname, port }) {
        const shown = hostname === "0.0.0.0" ? "localhost" : hostname;
        // A listener started again after running out of descriptors is not news.
        if (listened) return;
        listened = true;
        defaultLog(`Chat listening on http://${shown}:${port}/`, {
          ...configSummary(config),
          port,
        }, { level: "info" });
      },
    });
  try {
    chat = await createApp(config);
    server = listen();
  } catch (err) {
    fail(err, config);
  }

  let stopping = false;
  onSignal(async () => {
    if (stopping) return;
    stopping = true;
    defaultLog("Stopping: closing every socket with 1012", {
      ...chat.hub.stats(),
    }, {
      level: "info",
    });
    // Deno Deploy allows 5 s before SIGKILL; leave margin.
    const deadline = setTimeout(() => Deno.exit(0), 4000);
    await chat.close();
    clearTimeout(deadline);
    defaultLog("Stopped", {}, { level: "info" });
    Deno.exit(0);
  });
  // The hub and its sockets outlive a failed listener; only accept restarts.
  let first: Deno.HttpServer<Deno.NetAddr> | undefined = server;
  await serveAndRelisten(() => {
    const current = first ?? listen();
    first = undefined;
    return current;
  }, { stopping: () => stopping });
}

/**
 * Runs one worker per core with `deno serve --parallel`; the workers share
 * the KV file and reach each other over BroadcastChannel.
 */
async function serveParallel(config: Config): Promise<void> {
  // The workers get no more than this process has: read of the app, and
  // write where the KV file lives if this process may write there.
  const read = ["."];
  const write = ["./data"];
  const path = config.history.kvPath;
  if (path && path !== ":memory:") {
    const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".";
    const allowed = await Deno.permissions.query({ name: "write", path: dir });
    if (allowed.state === "granted") {
      read.push(dir);
      write.push(dir);
    }
  }
  defaultLog(`Chat starting ${config.server.workers} workers`, {
    ...configSummary(config),
  }, { level: "info" });
  const child = new Deno.Command("deno", {
    args: [
      "serve",
      "--parallel",
      `--port=${config.server.port}`,
      `--host=${config.server.hostname}`,
      "--allow-net",
      "--allow-env",
      `--allow-read=${read.join(",")}`,
      `--allow-write=${write.join(",")}`,
      new URL(import.meta.url).pathname,
    ],
    env: {
      [WORKER_ENV]: "1",
      DENO_JOBS: String(config.server.workers),
      // Every worker must sign with the same secret, even a generated one.
      COOKIE_SECRET: (config.session.secrets.length > 0
        ? config.session.secrets
        : [generateSecret()]).join(","),
      INSTANCE_ID: config.server.instanceName,
    },
    stdin: "null",
  }).spawn();
  let stopping = false;
  onSignal(async () => {
    if (stopping) return;
    stopping = true;
    // `deno serve` answers SIGTERM by closing sockets with 1001 before our
    // listeners run; SIGUSR2 first lets every worker send 1012. (Not SIGUSR1:
    // Deno opens the inspector on it.)
    try {
      child.kill("SIGUSR2");
      await new Promise((resolve) => setTimeout(resolve, 200));
      child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
  });
  const status = await child.status;
  Deno.exit(status.success || status.signal === "SIGTERM" ? 0 : status.code);
}

async function serveWorker(): Promise<Deno.ServeDefaultExport> {
  const config = readConfig();
  installCrashGuard();
  let chat: ChatApp;
  try {
    chat = await createApp(config);
  } catch (err) {
    fail(err, config);
  }
  // The parent sends SIGUSR2 just before SIGTERM (see serveParallel).
  try {
    Deno.addSignalListener("SIGUSR2", () => chat.hub.shutdown());
  } catch {
    // Not on this platform.
  }
  onSignal(() => {
    chat.hub.shutdown();
    setTimeout(() => Deno.exit(0), 300);
  });
  return { fetch: chat.app.fetch };
}

const worker = import.meta.main && Deno.env.get(WORKER_ENV) === "1"
  ? await serveWorker()
  : undefined;

/** The entry `deno serve --parallel` uses for each worker. */
export default {
  fetch(request, info) {
    if (!worker) return new Response("Not a serve worker", { status: 500 });
    return worker.fetch(request, info);
  },
} satisfies Deno.ServeDefaultExport;

if (import.meta.main && !worker) await serve();
