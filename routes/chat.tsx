/**
 * The chat pages and the room list.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { isRoomName, LOBBY } from "../lib/chat/protocol.ts";
import { currentSession } from "../lib/auth/session.ts";
import type { Services } from "../lib/app/services.ts";
import { ChatPage } from "../templates/chat_page.tsx";
import { NotFoundPage } from "../templates/not_found_page.tsx";
import { NoticePage } from "../templates/notice_page.tsx";
import { clientAddress } from "./client_address.ts";
import { createApiLimit } from "./api_limit.ts";
import { langOf } from "./lang.ts";
import { countRateLimited } from "../lib/app/telemetry.ts";
import { parseReadList, unreadIn } from "./room_list.ts";

/** Routes for `/chat`, `/chat/:room` and `/api/rooms`. */
export function chatRoutes(services: Services): Hono {
  const { hub, history } = services;
  const app = new Hono();
  // Counting unread reads up to 200 events in each of 20 rooms.
  const unreadLimit = createApiLimit(services);

  async function page(c: Context, room: string) {
    const lang = langOf(c);
    if (!isRoomName(room)) return c.html(<NotFoundPage lang={lang} />, 404);
    const session = await currentSession(c, services.session);
    if (!session) return c.redirect("/login", 303);
    c.header("Cache-Control", "no-store");
    // A new room is made here, where a person can be told why it cannot be.
    const opening = await services.rooms.open(
      room,
      clientAddress(c, services.resolveAddress),
    );
    if (!opening.ok) countRateLimited("rooms");
    if (!opening.ok && opening.reason === "rooms_full") {
      c.header("Retry-After", "60");
      return c.html(
        <NoticePage
          lang={lang}
          title="rooms_full_title"
          text="rooms_full_text"
        />,
        503,
      );
    }
    if (!opening.ok) {
      c.header("Retry-After", String(opening.retryAfter));
      return c.html(
        <NoticePage
          lang={lang}
          title="too_many_rooms_title"
          text="too_many_rooms_text"
          vars={{ seconds: opening.retryAfter }}
        />,
        429,
      );
    }
    return c.html(
      <ChatPage
        lang={lang}
        nickname={session.nickname}
        room={room}
        editWindowMinutes={services.config.limits.editWindowMinutes}
      />,
    );
  }

  app.get("/chat", (c) => page(c, LOBBY));
  app.get("/chat/:room", (c) => page(c, c.req.param("room")));
  app.get("/api/rooms", async (c) => {
    c.header("Cache-Control", "no-store");
    const parsed = parseReadList(c.req.query("read") ?? "");
    if (!parsed.ok) return c.json({ error: parsed.error }, 400);
    const read = parsed.list;
    const session = read.size > 0
      ? await currentSession(c, services.session)
      : undefined;
    if (read.size > 0 && !session) {
      return c.json({ error: "Unauthorized: log in first" }, 401);
    }
    if (read.size > 0) {
      const refused = unreadLimit(c);
      if (refused) return refused;
    }
    const present: { name: string; users: number }[] = await hub.rooms();
    const listed = new Set(present.map((r) => r.name));
    const visited = [...read.keys()].filter((name) => !listed.has(name))
      .map((name) => ({ name, users: 0 }));
    // One head read per room: the newest id (changes count too), for
    // resuming, and whether a visited room nobody is in has any history.
    const all = [...present, ...visited];
    const heads = await Promise.all(all.map((r) => history.head(r.name)));
    const rooms = all.map((room, i) => ({ room, latest: heads[i] }))
      .filter(({ room, latest }) => listed.has(room.name) || latest > 0);
    const unread = await Promise.all(rooms.map(({ room, latest }) => {
      const after = read.get(room.name);
      return after === undefined || !session ? undefined : unreadIn(
        history,
        room.name,
        { after, head: latest, reader: session.nickname },
      );
    }));
    return c.json(
      rooms.map(({ room, latest }, i) => ({ ...room, latest, ...unread[i] })),
    );
  });

  return app;
}
