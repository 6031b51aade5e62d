/**
 * The shared parts every route area needs, built once per app.
 *
 * @module
 */
import type { Config } from "./config.ts";
import type { Hub } from "./hub.ts";
import type { NicknameRegistry } from "./nicknames.ts";
import type { Revocations } from "./revocations.ts";
import type { CurrentSessionOptions } from "./session.ts";
import type { Store } from "./store.ts";

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
