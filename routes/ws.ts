/**
 * The WebSocket endpoint: every check happens before the upgrade, so
 * nothing joins a room unless it is allowed to.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { clientAddress } from "./client_address.ts";
import { isRoomName, LOBBY } from "../lib/chat/protocol.ts";
import { currentSession } from "../lib/auth/session.ts";
import type { Services } from "../lib/app/services.ts";
import { EPOCH_PATTERN } from "../lib/storage/history.ts";
import { countRateLimited, spanned } from "../lib/app/telemetry.ts";
import { banResponse } from "./ban_response.ts";

/** Routes for `/ws` (the lobby) and `/ws/:room`. */
export function wsRoutes(services: Services): Hono {
  const { config, hub } = services;
  const app = new Hono();

  async function upgrade(c: Context, room: string) {
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      c.header("Upgrade", "websocket");
      return c.text("Upgrade Required: this endpoint speaks WebSocket", 426);
    }
    if (!isRoomName(room)) {
      return c.text(`Unknown room "${room.slice(0, 64)}"`, 404);
    }
    const session = await currentSession(c, services.session);
    if (!session) return c.text("Unauthorized: log in first", 401);
    const origin = c.req.header("origin");
    // Browsers always send Origin; without it the caller is not a page that
    // a third-party site could have opened, so it passes.
    if (
      origin !== undefined && origin !== new URL(c.req.url).origin &&
      !config.session.allowedOrigins.includes(origin)
    ) {
      return c.text(`Forbidden origin "${origin.slice(0, 200)}"`, 403);
    }
    let since: number | undefined;
    const sinceRaw = c.req.query("since");
    if (sinceRaw !== undefined && sinceRaw !== "") {
      if (!/^\d{1,15}$/.test(sinceRaw)) {
        return c.text(
          `Invalid since "${sinceRaw.slice(0, 32)}": expected a message id`,
          400,
        );
      }
      since = Number(sinceRaw);
    }
    const epoch = c.req.query("epoch") || undefined;
    if (epoch !== undefined && !EPOCH_PATTERN.test(epoch)) {
      return c.text(
        `Invalid epoch "${
          epoch.slice(0, 40)
        }": expected 1 to 32 letters, digits, "_" or "-"`,
        400,
      );
    }
    const ip = clientAddress(c, services.resolveAddress);
    const ban = await services.moderation.checkUpgrade({ ...session, ip });
    if (ban) return banResponse(c, ban);
    const opening = await services.rooms.open(room, ip);
    if (!opening.ok) {
      countRateLimited("rooms");
      if (opening.reason === "too_many_rooms") {
        c.header("Retry-After", String(opening.retryAfter));
        return c.text(
          "Too Many Requests: too many new rooms from your address",
          429,
        );
      }
      c.header("Retry-After", "60");
      return c.text("Service Unavailable: the chat has too many rooms", 503);
    }
    const refusal = hub.admit(ip);
    if (refusal) {
      countRateLimited(
        refusal === "total" ? "connections" : "connections_per_ip",
      );
    }
    if (refusal === "total") {
      c.header("Retry-After", "5");
      return c.text("Service Unavailable: too many connections", 503);
    }
    if (refusal === "per_ip") {
      c.header("Retry-After", "5");
      return c.text(
        "Too Many Requests: too many connections from your address",
        429,
      );
    }
    let upgraded: { socket: WebSocket; response: Response };
    try {
      upgraded = Deno.upgradeWebSocket(c.req.raw, {
        idleTimeout: config.limits.idleTimeoutSeconds,
      });
    } catch (err) {
      hub.unadmit(ip);
      return c.text(
        `Bad WebSocket upgrade: ${err instanceof Error ? err.message : err}`,
        400,
      );
    }
    hub.attach(upgraded.socket, {
      sid: session.sid,
      nickname: session.nickname,
      room,
      ip,
      since,
      epoch,
    });
    return upgraded.response;
  }

  // One span per upgrade: its checks, and the 101 or the refusal.
  const traced = spanned("chat.upgrade");
  app.get("/ws", traced, (c) => upgrade(c, LOBBY));
  app.get("/ws/:room", traced, (c) => upgrade(c, c.req.param("room")));
  return app;
}
