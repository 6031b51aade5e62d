/**
 * `GET /api/audit`: the moderation audit log, newest first, for moderators
 * only. `before` is the `next` of the previous page; `limit` is 1 to 200.
 * `GET /audit`: the same log and paging as a page for moderators' browsers.
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
import { AuditPage } from "../templates/audit_page.tsx";
import { NoticePage } from "../templates/notice_page.tsx";
import { langOf } from "./lang.ts";

/** Entries a page has when `limit` is not given. */
const DEFAULT_LIMIT = 50;

/** What a request asks for: a page of the log, or why it cannot be read. */
type PageQuery =
  | { ok: true; before?: string; limit: number; given: boolean }
  | { ok: false; error: string };

/** Reads `before` and `limit`; `given` says whether `limit` was in the query. */
function pageQuery(c: Context): PageQuery {
  const before = c.req.query("before") || undefined;
  if (before !== undefined && !AUDIT_ID_PATTERN.test(before)) {
    return {
      ok: false,
      error: `Invalid before "${
        before.slice(0, 40)
      }": expected the next of an earlier page`,
    };
  }
  const limitRaw = c.req.query("limit");
  if (limitRaw === undefined || limitRaw === "") {
    return { ok: true, before, limit: DEFAULT_LIMIT, given: false };
  }
  const limit = /^\d{1,4}$/.test(limitRaw) ? Number(limitRaw) : 0;
  if (limit < 1 || limit > MAX_AUDIT_PAGE) {
    return {
      ok: false,
      error: `Invalid limit "${
        limitRaw.slice(0, 16)
      }": expected a whole number from 1 to ${MAX_AUDIT_PAGE}`,
    };
  }
  return { ok: true, before, limit, given: true };
}

/** Routes for `/api/audit` and `/audit`. */
export function auditRoutes(services: Services): Hono {
  const { moderation } = services;
  const app = new Hono();

  /** Whether this request's session is a moderator's; undefined without a session. */
  async function moderatorOf(c: Context): Promise<boolean | undefined> {
    const session = await currentSession(c, services.session);
    if (!session) return undefined;
    return await moderation.isModeratorSession(session.sid, session.nickname);
  }

  function failed(err: unknown, c: Context) {
    services.log("Reading the audit log failed", { error: errorText(err) });
    c.header("Retry-After", "5");
  }

  app.get("/api/audit", async (c) => {
    c.header("Cache-Control", "no-store");
    try {
      const moderator = await moderatorOf(c);
      if (moderator === undefined) {
        return c.json({ error: "Unauthorized: log in first" }, 401);
      }
      if (!moderator) {
        return c.json({ error: "Forbidden: moderators only" }, 403);
      }
      const query = pageQuery(c);
      if (!query.ok) return c.json({ error: query.error }, 400);
      const { before, limit } = query;
      return c.json(await moderation.audit.page({ before, limit }));
    } catch (err) {
      failed(err, c);
      return c.json(
        { error: "Service Unavailable: the store did not answer" },
        503,
      );
    }
  });

  // The templates are called as functions, so this module stays .ts.
  app.get("/audit", async (c) => {
    c.header("Cache-Control", "no-store");
    const lang = langOf(c);
    try {
      const moderator = await moderatorOf(c);
      if (moderator === undefined) return c.redirect("/login", 303);
      if (!moderator) {
        return c.html(
          NoticePage({
            lang,
            title: "audit_forbidden_title",
            text: "audit_forbidden_text",
          }),
          403,
        );
      }
      const query = pageQuery(c);
      if (!query.ok) {
        return c.html(
          NoticePage({
            lang,
            title: "audit_bad_page_title",
            text: "audit_bad_page_text",
          }),
          400,
        );
      }
      const { before, limit, given } = query;
      const { entries, next } = await moderation.audit.page({ before, limit });
      // The older page keeps a limit that was asked for
      const older = next === undefined
        ? undefined
        : `/audit?before=${encodeURIComponent(next)}${
          given ? `&limit=${limit}` : ""
        }`;
      return c.html(
        AuditPage({ lang, entries, older, paged: before !== undefined }),
      );
    } catch (err) {
      failed(err, c);
      return c.html(
        NoticePage({
          lang,
          title: "audit_unavailable_title",
          text: "audit_unavailable_text",
        }),
        503,
      );
    }
  });
  return app;
}
