/**
 * What every room of one hub shares: the stores, the bus, the fan-out and
 * the settings from config. The hub builds one and hands it to each room.
 *
 * @module
 */
import type { Logger } from "../app/log.ts";
import type { Bus } from "../cluster/bus.ts";
import type { HistoryStore } from "../storage/history.ts";
import type { PresenceStore } from "../storage/presence_leases.ts";
import type { Fanout } from "./fanout.ts";
import type { AddressLimiter } from "./limits.ts";
import type { Room } from "./room.ts";

/** The room settings that come from config. */
export interface RoomSettings {
  batchMs: number;
  historyOnJoin: number;
  maxMessageChars: number;
  presenceTtlMs: number;
  /** HISTORY_SIZE: how many events the store keeps per room. */
  historySize: number;
  /** EDIT_WINDOW_MINUTES in ms. */
  editWindowMs: number;
}

/** What every room of one hub shares. */
export interface RoomContext {
  history: HistoryStore;
  leases: PresenceStore;
  bus: Bus;
  fanout: Fanout;
  /** Messages per address across all its sessions, so fresh sessions lift no limit. */
  addressMessages: AddressLimiter;
  instance: string;
  settings: RoomSettings;
  now(): number;
  log: Logger;
  /** Whether the hub is shutting down: nothing new is announced then. */
  closing(): boolean;
  /** Called when the room has nobody in it and nothing left to do. */
  onIdle(room: Room): void;
}
