/**
 * The browser's files, with ETags and long caching for versioned URLs.
 *
 * @module
 */
import { Hono } from "hono";
import { staticFiles } from "../lib/web/static_files.ts";

/** `GET /static/*` from the files read once. */
export function staticRoutes(): Hono {
  const app = new Hono();
  app.get("/static/:path{.+}", async (c) => {
    const file = (await staticFiles()).get(c.req.param("path"));
    if (!file) return c.text("Not Found", 404);
    const etag = `"${file.hash}"`;
    c.header("ETag", etag);
    c.header(
      "Cache-Control",
      c.req.query("v") === file.hash
        ? "public, max-age=31536000, immutable"
        : "no-cache",
    );
    if (c.req.header("if-none-match") === etag) return c.body(null, 304);
    c.header("Content-Type", file.contentType);
    return c.body(file.body as Uint8Array<ArrayBuffer>);
  });
  return app;
}
