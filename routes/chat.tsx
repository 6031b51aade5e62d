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
import { langOf } from "./lang.ts";
import { countRateLimited } from "../lib/app/telemetry.ts";

/** Routes for `/chat`, `/chat/:room` and `/api/rooms`. */
export function chatRoutes(services: Services): Hono {
  const { hub, history } = services;
  const app = new Hono();

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
      <ChatPage lang={lang} nickname={session.nickname} room={room} />,
    );
  }

  app.get("/chat", (c) => page(c, LOBBY));
  app.get("/chat/:room", (c) => page(c, c.req.param("room")));
  app.get("/api/rooms", async (c) => {
    c.header("Cache-Control", "no-store");
    const rooms = await hub.rooms();
    // The newest id of each room (changes count too), for the page's unread marks.
    const heads = await Promise.all(rooms.map((r) => history.head(r.name)));
    return c.json(rooms.map((r, i) => ({ ...r, latest: heads[i] })));
  });

  return app;
}
