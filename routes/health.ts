/**
 * Liveness for load balancers and operators.
 *
 * @module
 */
import { Hono } from "hono";
import type { Services } from "../lib/app/services.ts";

/** `GET /healthz`: status and live counts. */
export function healthRoutes(services: Services): Hono {
  const app = new Hono();
  app.get("/healthz", (c) => {
    c.header("Cache-Control", "no-store");
    return c.json({
      status: "ok",
      ...services.hub.stats(),
      instance: services.instanceId,
    });
  });
  return app;
}
