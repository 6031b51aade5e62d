/**
 * The shared parts every route area needs, built once per app.
 *
 * @module
 */
import type { Config } from "./config.ts";
import type { Hub } from "../chat/hub.ts";
import type { NicknameRegistry } from "../auth/nicknames.ts";
import type { Revocations } from "../storage/revocations.ts";
import type { CurrentSessionOptions } from "../auth/session.ts";
import type { Store } from "../storage/history.ts";

/** What main.ts builds and hands to each routes/ module. */
export interface Services {
  config: Config;
  hub: Hub;
  nicknames: NicknameRegistry;
  store: Store;
  revocations: Revocations;
  /** How every route reads the session, built once from the config. */
  session: CurrentSessionOptions;
}
