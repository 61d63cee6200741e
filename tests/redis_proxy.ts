/**
 * A TCP relay between a node of a test cluster and its Redis, for the
 * faults a frozen or stopped Redis cannot make: Redis answering commands
 * while what it publishes does not reach the node (its subscription
 * stalled on the way back), the node's commands stalled on the way there
 * while its subscription still hears, or the node alone cut off.
 *
 * A connection that has sent `SUBSCRIBE` is a subscriber, any other a
 * command connection. While held, bytes wait in the kernel's buffers and
 * the relay's, and `release` lets them through in order.
 *
 * @module
 */

/** A relay in front of one Redis, closed at the end of a `using` block. */
export interface RedisProxy extends AsyncDisposable {
  /** `redis://127.0.0.1:<port>`: give this to a node instead of Redis's. */
  url: string;
  /** Stops passing what Redis sends to subscribed connections. */
  holdSubscribers(): void;
  /** Stops passing what command connections send to Redis. */
  holdCommands(): void;
  /** Passes everything held on again, in order. */
  release(): void;
  /**
   * Resolves once bytes containing `text` (any case) have been passed on
   * to Redis: a command known to be on the wire.
   */
  passed(text: string): Promise<void>;
  /**
   * Drops every connection and refuses new ones: the node is cut off.
   * Whatever was held is let go with its connection.
   */
  cut(): void;
  /** Accepts connections again after `cut`. */
  restore(): void;
}

/** The command word as node-redis writes it (a RESP bulk string). */
const SUBSCRIBE = "\r\nsubscribe\r\n";

interface Pair {
  client: Deno.Conn;
  server: Deno.Conn;
  subscriber: boolean;
}

/** Starts a relay on a free loopback port to the Redis at `redisPort`. */
export function startRedisProxy(redisPort: number): RedisProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const pairs = new Set<Pair>();
  const pumps = new Set<Promise<void>>();
  const held = { subscribers: false, commands: false };
  let refusing = false;
  const watchers: Array<{ text: string; seen: () => void }> = [];
  let wake: () => void = () => {};
  let released = Promise.resolve();
  const track = (work: Promise<void>) => {
    pumps.add(work);
    work.finally(() => pumps.delete(work)).catch(() => {});
  };
  const closeBoth = (pair: Pair) => {
    for (const conn of [pair.client, pair.server]) {
      try {
        conn.close();
      } catch {
        // Closed already.
      }
    }
    pairs.delete(pair);
  };
  const relay = async (client: Deno.Conn) => {
    if (refusing) {
      client.close();
      return;
    }
    let server: Deno.Conn;
    try {
      server = await Deno.connect({ hostname: "127.0.0.1", port: redisPort });
    } catch {
      client.close();
      return;
    }
    const pair: Pair = { client, server, subscriber: false };
    pairs.add(pair);
    const decoder = new TextDecoder("latin1");
    const upstream = async () => {
      try {
        for await (const chunk of client.readable) {
          const text = decoder.decode(chunk).toLowerCase();
          if (text.includes(SUBSCRIBE)) pair.subscriber = true;
          while (held.commands && !pair.subscriber && pairs.has(pair)) {
            await released;
          }
          await write(server, chunk);
          for (const watcher of [...watchers]) {
            if (!text.includes(watcher.text)) continue;
            watchers.splice(watchers.indexOf(watcher), 1);
            watcher.seen();
          }
        }
      } catch {
        // Reset, or closed by the other pump.
      } finally {
        closeBoth(pair);
      }
    };
    const downstream = async () => {
      try {
        for await (const chunk of server.readable) {
          while (held.subscribers && pair.subscriber && pairs.has(pair)) {
            await released;
          }
          await write(client, chunk);
        }
      } catch {
        // Reset, or closed by the other pump.
      } finally {
        closeBoth(pair);
      }
    };
    await Promise.all([upstream(), downstream()]);
  };
  const accepting = (async () => {
    try {
      for await (const client of listener) track(relay(client));
    } catch {
      // Closed.
    }
  })();
  const hold = (what: keyof typeof held) => {
    if (!held.subscribers && !held.commands) {
      released = new Promise((resolve) => wake = resolve);
    }
    held[what] = true;
  };
  const release = () => {
    held.subscribers = false;
    held.commands = false;
    wake();
  };
  return {
    url: `redis://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    holdSubscribers: () => hold("subscribers"),
    holdCommands: () => hold("commands"),
    release,
    passed: (text) =>
      new Promise((seen) => watchers.push({ text: text.toLowerCase(), seen })),
    cut() {
      refusing = true;
      for (const pair of [...pairs]) closeBoth(pair);
      release();
    },
    restore() {
      refusing = false;
    },
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting;
      for (const pair of [...pairs]) closeBoth(pair);
      release();
      while (pumps.size > 0) await Promise.all([...pumps]);
    },
  };
}

async function write(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    offset += await conn.write(bytes.subarray(offset));
  }
}
