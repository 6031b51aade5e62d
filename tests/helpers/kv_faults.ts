/**
 * KV fault injection: an in-memory Deno.Kv whose reads or writes fail on
 * demand. Nothing a client sends can make the app's KV calls fail, so a test
 * hands createApp this store's `kv` instead of a plain one.
 *
 * @module
 */

/** An in-memory store with switches that make some of its calls fail. */
export interface FaultyKv {
  /** The handle to give the app: the real store, but `get` or writes may fail. */
  readonly kv: Deno.Kv;
  /** From now on, `get` of a key `match` accepts rejects with Error(`message`). */
  failGets(match: (key: Deno.KvKey) => boolean, message: string): void;
  /** From now on, every `set`, `delete` and atomic `commit` rejects with Error(`message`), as on a full disk. */
  failWrites(message: string): void;
  /** Ends every failure: reads and writes go through again. */
  heal(): void;
  /** `using` closes the store. */
  [Symbol.dispose](): void;
}

/** Opens a fresh in-memory store that fails nothing until told to. */
export async function openFaultyKv(): Promise<FaultyKv> {
  const real = await Deno.openKv(":memory:");
  let fault: { match: (key: Deno.KvKey) => boolean; message: string } | null =
    null;
  let writeFault: string | null = null;
  const refuse = () => Promise.reject(new Error(writeFault!));
  const atomic = () => faultyAtomic(real.atomic(), () => writeFault);
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
      if ((prop === "set" || prop === "delete") && writeFault !== null) {
        return refuse;
      }
      if (prop === "atomic") return atomic;
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return {
    kv,
    failGets(match, message) {
      fault = { match, message };
    },
    failWrites(message) {
      writeFault = message;
    },
    heal() {
      fault = null;
      writeFault = null;
    },
    [Symbol.dispose]() {
      real.close();
    },
  };
}

/** `op`, except that `commit` rejects while `failing()` names a message. */
function faultyAtomic(
  op: Deno.AtomicOperation,
  failing: () => string | null,
): Deno.AtomicOperation {
  const proxy: Deno.AtomicOperation = new Proxy(op, {
    get(target, prop) {
      const message = failing();
      if (prop === "commit" && message !== null) {
        return () => Promise.reject(new Error(message));
      }
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      // Builder methods return the operation: keep handing out the proxy.
      return (...args: unknown[]) => {
        const result = value.apply(target, args);
        return result === target ? proxy : result;
      };
    },
  });
  return proxy;
}
