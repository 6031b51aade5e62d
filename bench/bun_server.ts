/**
 * The fastest peer the chat server is compared with: Bun's native pub/sub
 * (uWebSockets), every socket subscribed to one topic, every text frame
 * received published to it (the sender included), as the raw Deno baseline
 * does. No rooms, no login, no persistence. Run by `bun`, not Deno: the
 * bench starts it with the binary it finds (bench/peers.ts).
 */
// Bun's globals are not in Deno's types; this is the little used here.
declare const Bun: {
  serve(options: {
    port: number;
    hostname: string;
    fetch(req: Request, server: BunServer): Response | undefined;
    websocket: {
      open(ws: BunSocket): void;
      message(ws: BunSocket, message: string | Uint8Array): void;
    };
  }): BunServer;
};
interface BunServer {
  upgrade(req: Request): boolean;
  publish(topic: string, message: string | Uint8Array): number;
  subscriberCount(topic: string): number;
}
interface BunSocket {
  subscribe(topic: string): void;
}

const TOPIC = "all";
const server = Bun.serve({
  port: Number(process.env.PORT ?? 8002),
  hostname: process.env.HOST ?? "127.0.0.1",
  fetch(req, server) {
    const { pathname } = new URL(req.url);
    if (pathname === "/healthz") {
      const connections = server.subscriberCount(TOPIC);
      return Response.json({ status: "ok", connections });
    }
    // Answered so the load process runs the same login code path for all.
    if (pathname === "/login") {
      const headers = { location: "/", "set-cookie": "session=bun" };
      return new Response(null, { status: 303, headers });
    }
    if (server.upgrade(req)) return undefined;
    return new Response("Expected a WebSocket upgrade", { status: 400 });
  },
  websocket: {
    open(ws) {
      ws.subscribe(TOPIC);
    },
    message(_ws, message) {
      // publish() from the server reaches the sender too, like the baseline.
      server.publish(TOPIC, message);
    },
  },
});
declare const process: { env: Record<string, string | undefined> };
