/**
 * KV fault injection: an in-memory Deno.Kv whose reads fail on demand.
 * Nothing a client sends can make the app's KV calls fail, so a test hands
 * createApp this store's `kv` instead of a plain one.
 *
 * @module
 */

/** An in-memory store with a switch that makes some of its reads fail. */
export interface FaultyKv {
  /** The handle to give the app: the real store, but `get` may fail. */
  readonly kv: Deno.Kv;
  /** From now on, `get` of a key `match` accepts rejects with Error(`message`). */
  failGets(match: (key: Deno.KvKey) => boolean, message: string): void;
  /** Ends the failure: every read goes through again. */
  heal(): void;
  /** `using` closes the store. */
  [Symbol.dispose](): void;
}

/** Opens a fresh in-memory store that fails nothing until told to. */
export async function openFaultyKv(): Promise<FaultyKv> {
  const real = await Deno.openKv(":memory:");
  let fault: { match: (key: Deno.KvKey) => boolean; message: string } | null =
    null;
  const kv = new Proxy(real, {
    get(target, prop) {
      if (prop === "get") {
        return (
          key: Deno.KvKey,
          options?: { consistency?: Deno.KvConsistencyLevel },
        ) =>
          fault?.match(key)
            ? Promise.reject(new Error(fault.message))
            : target.get(key, options);
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return {
    kv,
    failGets(match, message) {
      fault = { match, message };
    },
    heal() {
      fault = null;
    },
    [Symbol.dispose]() {
      real.close();
    },
  };
}
