/**
 * Scrollback: older messages of a room, a page at a time, in their latest
 * state (edits, deletions and reactions folded in), for a logged-in page.
 *
 * @module
 */
import { Hono } from "hono";
import { currentSession } from "../lib/auth/session.ts";
import type { Services } from "../lib/app/services.ts";
import { isRoomName } from "../lib/chat/protocol.ts";
import { foldedPage } from "../lib/storage/message_state.ts";
import { createApiLimit } from "./api_limit.ts";

/** Messages per page unless `limit` says otherwise. */
export const DEFAULT_PAGE = 50;
/** The most messages one page gives; a larger `limit` is capped to it. */
export const MAX_PAGE = 100;

/** Routes for `GET /api/rooms/:room/messages?before=<id>&limit=<n>`. */
export function messageRoutes(services: Services): Hono {
  const app = new Hono();
  const limited = createApiLimit(services);

  app.get("/api/rooms/:room/messages", async (c) => {
    c.header("Cache-Control", "no-store");
    const room = c.req.param("room");
    if (!isRoomName(room)) {
      return c.json({ error: `Unknown room "${room.slice(0, 64)}"` }, 404);
    }
    const session = await currentSession(c, services.session);
    if (!session) return c.json({ error: "Unauthorized: log in first" }, 401);
    const refused = limited(c);
    if (refused) return refused;
    const before = readWhole(c.req.query("before"));
    if (before === null) {
      return c.json({
        error: `Invalid before "${
          (c.req.query("before") ?? "").slice(0, 32)
        }": expected a message id`,
      }, 400);
    }
    const limit = readWhole(c.req.query("limit"));
    if (limit === null) {
      return c.json({
        error: `Invalid limit "${
          (c.req.query("limit") ?? "").slice(0, 32)
        }": expected a whole number from 1`,
      }, 400);
    }
    let page;
    try {
      page = await foldedPage(services.history, room, {
        before,
        limit: Math.min(limit ?? DEFAULT_PAGE, MAX_PAGE),
      });
    } catch (err) {
      services.log("Scrollback failed: the store refused a read", {
        room,
        error: err instanceof Error ? err.message : String(err),
      }, { level: "warning" });
      c.header("Retry-After", "5");
      return c.json({ error: "The store is unavailable: try again" }, 503);
    }
    return c.json({
      room,
      messages: page.messages,
      start: page.start,
      epoch: page.epoch,
    });
  });

  return app;
}

/** A whole number from 1 in a query; undefined when absent, null when invalid. */
function readWhole(raw: string | undefined): number | undefined | null {
  if (raw === undefined) return undefined;
  if (!/^[1-9]\d{0,14}$/.test(raw)) return null;
  return Number(raw);
}
