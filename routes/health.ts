/**
 * Health for load balancers and operators: liveness (`/healthz`, the
 * process answers) and readiness (`/readyz`, its KV and bus answer too).
 *
 * @module
 */
import { Hono } from "hono";
import type { Services } from "../lib/app/services.ts";

/** `GET /healthz`: status and live counts; `GET /readyz`: 200 when KV and the bus answer, else 503 naming what fails. */
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
  app.get("/readyz", async (c) => {
    c.header("Cache-Control", "no-store");
    const ready = await services.ready();
    const checks = {
      kv: ready.kv ? "up" : "down",
      bus: ready.bus ? "up" : "down",
    };
    const failing = Object.entries(checks)
      .filter(([, state]) => state === "down")
      .map(([name]) => name);
    const instance = services.instanceId;
    if (failing.length === 0) {
      return c.json({ status: "ready", checks, instance });
    }
    return c.json({ status: "not_ready", failing, checks, instance }, 503);
  });
  return app;
}
