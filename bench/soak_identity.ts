/**
 * The soak's attacks on who people are and where requests go: look-alike
 * nicknames, upgrades racing logout, DNS rebinding and text that is not
 * text (issue 11, items 6 to 10).
 *
 * @module
 */
import {
  type Attack,
  AttackSocket,
  bump,
  login,
  peer,
  postForm,
  rawStatus,
  running,
  session,
  sleep,
  type Tally,
} from "./soak_net.ts";

/** The nine look-alikes of issue 11, built on the victim's name. */
export function lookAlikes(name: string): string[] {
  const swap = (from: string, to: string) => name.replace(from, to);
  return [
    swap("a", "\u0430"),
    swap("i", "\u0456"),
    name + "\u034f",
    name + "\ufe0f",
    name + "\u3164",
    name.slice(0, 2) + "\u00a0" + name.slice(2),
    [...name].map((c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0)).join(
      "",
    ),
    "\u2800",
    "\u3164",
  ];
}

/** Logins as look-alikes of the victim: every one must be refused. */
export function impersonation(): Attack {
  const tally: Tally = {};
  return {
    label: "5. look-alike nicknames of the honest user",
    tally,
    async run(ctx) {
      const who = peer(ctx, "198.18.5.1");
      const names = lookAlikes(ctx.victim);
      for (let i = 0; running(ctx); i++) {
        const { status } = await login(who, names[i % names.length]);
        bump(tally, status === 303 ? "ACCEPTED" : `login ${status}`);
        await sleep(100);
      }
    },
  };
}

/** Upgrades racing a logout: none may stay open. */
export function zombies(): Attack {
  const tally: Tally = {};
  return {
    label: "6. upgrades racing logout",
    tally,
    async run(ctx) {
      const who = peer(ctx, "198.18.6.1");
      const upgraded: AttackSocket[] = [];
      for (let round = 0; running(ctx); round++) {
        const { status, cookie } = await login(who, `zombie${round}`);
        if (!cookie) {
          bump(tally, `login ${status}`);
          await sleep(1000);
          continue;
        }
        const upgrades = Array.from(
          { length: 10 },
          () => AttackSocket.open(who, cookie),
        );
        await sleep(round % 3);
        await postForm(who, "/logout", { cookie });
        for (const socket of await Promise.all(upgrades)) {
          if (typeof socket === "string") bump(tally, socket);
          else upgraded.push(socket);
        }
        bump(tally, "races");
      }
      tally["upgrades that won the race"] = upgraded.length;
      const ends = await Promise.all(
        upgraded.map((s) => s.readUntilClose(3000)),
      );
      for (const how of ends) bump(tally, `then ${how}`);
    },
  };
}

/** DNS rebinding and text that is not text. */
export function hostAndText(): Attack[] {
  const hosts: Tally = {};
  const texts: Tally = {};
  const bad = [
    "nul\u0000here",
    "lone \ud800",
    "low \udc00 x",
    "esc \u001b[31m",
  ];
  return [{
    label: "7a. wrong Host / DNS rebinding",
    tally: hosts,
    async run(ctx) {
      const who = peer(ctx, "198.18.7.1");
      for (let i = 0; running(ctx); i++) {
        const status = await rawStatus(who, {
          host: "evil.example",
          ...(i % 2
            ? { path: "/healthz" }
            : { method: "POST", path: "/login", body: "nickname=mallory" }),
        });
        bump(hosts, `answered ${status}`);
        await sleep(50);
      }
    },
  }, {
    label: "7b. NUL, C0 controls and lone surrogates in text",
    tally: texts,
    async run(ctx) {
      const who = peer(ctx, "198.18.7.2");
      const cookie = await session(ctx, who, "garbler");
      while (running(ctx)) {
        const socket = await AttackSocket.open(who, cookie);
        if (typeof socket === "string") {
          bump(texts, socket);
          await sleep(1000);
          continue;
        }
        const reading = socket.readUntilClose(
          ctx.until - Date.now() + 1000,
          (e) => {
            if (e.type === "error") bump(texts, `refused ${e.code}`);
            else if (e.type === "message" && e.nickname === "garbler") {
              bump(texts, "POSTED");
            }
          },
        );
        for (let i = 0; running(ctx); i++) {
          if (
            !await socket.send({ type: "message", text: bad[i % bad.length] })
          ) break;
          bump(texts, "sent");
          await sleep(300);
        }
        bump(texts, `socket ${await reading}`);
      }
    },
  }];
}
