/**
 * The floor the chat server is compared with: raw `Deno.upgradeWebSocket`,
 * one `send` per member, no rooms, no login, no persistence. It reads the
 * same PORT and HOST as the chat server so the bench drives both alike.
 */
const sockets = new Set<WebSocket>();
Deno.serve({
  port: Number(Deno.env.get("PORT") ?? 8001),
  hostname: Deno.env.get("HOST") ?? "127.0.0.1",
}, (req) => {
  const { pathname } = new URL(req.url);
  if (pathname === "/healthz") {
    return Response.json({ status: "ok", connections: sockets.size });
  }
  // Answered so the load process runs the same login code path for both.
  if (pathname === "/login") {
    const headers = { location: "/", "set-cookie": "session=baseline" };
    return new Response(null, { status: 303, headers });
  }
  const { socket, response } = Deno.upgradeWebSocket(req);
  socket.onopen = () => sockets.add(socket);
  socket.onclose = () => sockets.delete(socket);
  socket.onmessage = (e) => {
    // A socket mid-close would throw and cut the broadcast short.
    for (const s of sockets) {
      if (s.readyState === WebSocket.OPEN) s.send(e.data);
    }
  };
  return response;
});
