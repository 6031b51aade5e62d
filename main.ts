/**
 * The chat service: builds the app from a config, and serves it when run.
 *
 * @module
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { secureHeaders } from "hono/secure-headers";
import { type Config, ConfigError, loadConfig } from "./lib/config.ts";
import { createHub, type Hub, type Logger } from "./lib/hub.ts";
import { createKvNicknameRegistry } from "./lib/nicknames.ts";
import { createKvStore, openKv } from "./lib/store.ts";
import type { Services } from "./lib/services.ts";
import { authRoutes } from "./routes/auth.tsx";
import { chatRoutes } from "./routes/chat.tsx";
import { healthRoutes } from "./routes/health.ts";
import { staticRoutes } from "./routes/static.ts";
import { wsRoutes } from "./routes/ws.ts";

/** A built app: its Hono router, its room map and how to release it. */
export interface ChatApp {
  app: Hono;
  hub: Hub;
  kv: Deno.Kv;
  services: Services;
  /** Closes every socket (1012) and the KV handle unless it was passed in. */
  close(): Promise<void>;
}

/** Options for {@linkcode createApp}. */
export interface CreateAppOptions {
  /** A KV handle to share (tests run two apps over one); opened from config otherwise. */
  kv?: Deno.Kv;
  log?: Logger;
}

const CSP = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'"],
  connectSrc: ["'self'"],
  fontSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

/** Builds the whole app from a config; serving it is the caller's choice. */
export async function createApp(
  config: Config,
  options: CreateAppOptions = {},
): Promise<ChatApp> {
  const kv = options.kv ?? await openKv(config.kvPath);
  const store = createKvStore(kv, {
    historySize: config.historySize,
    ttlMs: config.historyTtlDays * 24 * 3600 * 1000,
  });
  const nicknames = createKvNicknameRegistry(kv);
  const hub = createHub({ config, store, nicknames, log: options.log });
  const services: Services = { config, hub, nicknames, store };

  const app = new Hono();
  const headers = secureHeaders({
    contentSecurityPolicy: CSP,
    referrerPolicy: "same-origin",
    crossOriginEmbedderPolicy: false,
  });
  app.use("*", (c, next) => {
    // The 101 response of an upgrade must pass through untouched.
    if (c.req.path === "/ws" || c.req.path.startsWith("/ws/")) return next();
    return headers(c, next);
  });
  app.route("/", staticRoutes());
  app.route("/", healthRoutes(services));
  app.route("/", authRoutes(services));
  app.route("/", chatRoutes(services));
  app.route("/", wsRoutes(services));
  app.notFound((c) => c.text("Not Found", 404));
  app.onError((err, c) => {
    if (err instanceof HTTPException) return err.getResponse();
    (options.log ?? console.error)(
      `Unhandled error on ${c.req.method} ${c.req.path}`,
      { error: err.stack ?? String(err) },
    );
    return c.text("Internal Server Error", 500);
  });

  let closed = false;
  return {
    app,
    hub,
    kv,
    services,
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      hub.shutdown();
      if (!options.kv) kv.close();
      return Promise.resolve();
    },
  };
}

async function serve(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(Deno.env.toObject());
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      Deno.exit(1);
    }
    throw err;
  }
  if (config.cookieSecretGenerated) {
    console.warn(
      "COOKIE_SECRET is not set: using a random secret, so sessions will not survive a restart",
    );
  }
  const chat = await createApp(config);
  const server = Deno.serve({
    port: config.port,
    hostname: config.hostname,
    onListen({ hostname, port }) {
      const shown = hostname === "0.0.0.0" ? "localhost" : hostname;
      console.log(`Chat listening on http://${shown}:${port}/`);
    },
  }, chat.app.fetch);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    // Deno Deploy allows 5 s before SIGKILL; leave margin.
    const deadline = setTimeout(() => Deno.exit(0), 4000);
    chat.hub.shutdown();
    await server.shutdown();
    await chat.close();
    clearTimeout(deadline);
    Deno.exit(0);
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    try {
      Deno.addSignalListener(signal, stop);
    } catch {
      // Some platforms (and Deploy) do not deliver every signal.
    }
  }
  await server.finished;
}

if (import.meta.main) await serve();
