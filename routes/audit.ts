/**
 * `GET /api/audit`: the moderation audit log, newest first, for moderators
 * only. `before` is the `next` of the previous page; `limit` is 1 to 200.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { errorText } from "../lib/app/log.ts";
import { currentSession } from "../lib/auth/session.ts";
import type { Services } from "../lib/app/services.ts";
import {
  AUDIT_ID_PATTERN,
  MAX_AUDIT_PAGE,
} from "../lib/moderation/audit_log.ts";

/** Entries a page has when `limit` is not given. */
const DEFAULT_LIMIT = 50;

/** Routes for `/api/audit`. */
export function auditRoutes(services: Services): Hono {
  const app = new Hono();
  app.get("/api/audit", async (c) => {
    c.header("Cache-Control", "no-store");
    const session = await currentSession(c, services.session);
    if (!session) return c.json({ error: "Unauthorized: log in first" }, 401);
    const { moderation } = services;
    try {
      if (!await moderation.isModeratorSession(session.sid, session.nickname)) {
        return c.json({ error: "Forbidden: moderators only" }, 403);
      }
      return await page(c);
    } catch (err) {
      services.log("Reading the audit log failed", { error: errorText(err) });
      c.header("Retry-After", "5");
      return c.json(
        { error: "Service Unavailable: the store did not answer" },
        503,
      );
    }
  });

  /** The page `before` and `limit` ask for, or 400. */
  async function page(c: Context): Promise<Response> {
    const before = c.req.query("before") || undefined;
    if (before !== undefined && !AUDIT_ID_PATTERN.test(before)) {
      return c.json({
        error: `Invalid before "${
          before.slice(0, 40)
        }": expected the next of an earlier page`,
      }, 400);
    }
    const limitRaw = c.req.query("limit");
    let limit = DEFAULT_LIMIT;
    if (limitRaw !== undefined && limitRaw !== "") {
      limit = /^\d{1,4}$/.test(limitRaw) ? Number(limitRaw) : 0;
      if (limit < 1 || limit > MAX_AUDIT_PAGE) {
        return c.json({
          error: `Invalid limit "${
            limitRaw.slice(0, 16)
          }": expected a whole number from 1 to ${MAX_AUDIT_PAGE}`,
        }, 400);
      }
    }
    return c.json(await services.moderation.audit.page({ before, limit }));
  }
  return app;
}
