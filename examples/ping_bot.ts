/**
 * A small tern bot, as PROTOCOL.md describes them: JSON mode, answers
 * `!ping` in its room, and reconnects the way a bot should: after a network
 * loss or a goodbye that means "try again" (shutdown, timeout, ...), with a
 * delay that grows on every failed attempt; never after kicked, banned or
 * taken over. A taken nickname gets a `_` and another `hello`.
 *
 * Run it: `deno run --allow-net --allow-env examples/ping_bot.ts --port 7000`
 * (`--host`, `--nick`, `--room`; a registered nickname's password from
 * $TERN_NICK_PASSWORD, the server password from $TERN_PASSWORD).
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  byeMeansReconnect,
  type ClientRequest,
  decodeJsonEvent,
  encodeJsonRequest,
  isByeCode,
  LineFramer,
  type ServerEvent,
} from "../protocol.ts";

/** How the bot connects and who it is. */
export interface BotOptions {
  /** The server's host (`--host`). */
  hostname: string;
  /** The server's TCP chat port (`--port`); the bot speaks JSON on it. */
  port: number;
  /** The nickname to ask for; a `_` is added each time it is taken. */
  nick: string;
  /** The room to sit in; default `#lobby`. */
  room?: string;
  /** The server password, if the server has one. */
  password?: string;
  /** The password of the bot's registered nickname, if it has one. */
  identify?: string;
  /** Where the bot says what it does; default stderr. */
  log?: (line: string) => void;
}

/** First and longest wait before reconnecting, ms. */
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 60_000;

/** A session this long resets the wait to the first one. */
const STABLE_MS = 60_000;

/** Attempts at another nickname after `nick_taken`. */
const MAX_NICK_TRIES = 5;

/** Largest line the bot accepts (history replies can be long). */
const MAX_LINE_BYTES = 1 << 20;

const encoder = new TextEncoder();

/** How one connection ended. */
type Ending =
  | { kind: "lost" }
  | { kind: "bye"; code: string; reason: string }
  | { kind: "gave_up"; why: string };

/**
 * Runs the bot until it is sent away for good or `signal` aborts; resolves
 * to an exit status (0 after an abort or a `quit`, 1 when it must not come
 * back).
 */
export async function runBot(
  options: BotOptions,
  signal: AbortSignal,
): Promise<number> {
  const log = options.log ?? ((line: string) => console.error(line));
  let waitMs = RETRY_MIN_MS;
  while (!signal.aborted) {
    const started = Date.now();
    const ending = await connectOnce(options, signal, log);
    if (signal.aborted) return 0;
    if (ending.kind === "gave_up") {
      log(`giving up: ${ending.why}`);
      return 1;
    }
    if (ending.kind === "bye") {
      if (ending.code === "quit") return 0;
      // An unknown code, from a newer server, means "do not come back".
      const again = isByeCode(ending.code) && byeMeansReconnect(ending.code);
      if (!again) {
        log(`not reconnecting: ${ending.reason} (${ending.code})`);
        return 1;
      }
    }
    if (Date.now() - started >= STABLE_MS) waitMs = RETRY_MIN_MS;
    log(`reconnecting in ${waitMs} ms`);
    await sleep(waitMs, signal);
    waitMs = Math.min(waitMs * 2, RETRY_MAX_MS);
  }
  return 0;
}

/** One connection: hello, then answer events until it ends. */
async function connectOnce(
  options: BotOptions,
  signal: AbortSignal,
  log: (line: string) => void,
): Promise<Ending> {
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({
      hostname: options.hostname,
      port: options.port,
    });
  } catch (error) {
    log(`cannot connect: ${error instanceof Error ? error.message : error}`);
    return { kind: "lost" };
  }
  const stop = () => conn.close();
  signal.addEventListener("abort", stop, { once: true });
  let writes = Promise.resolve();
  const send = (request: ClientRequest) => {
    const bytes = encoder.encode(encodeJsonRequest(request));
    writes = writes.then(async () => {
      let offset = 0;
      while (offset < bytes.length) {
        offset += await conn.write(bytes.subarray(offset));
      }
    }).catch(() => {
      // The read loop sees the closed connection.
    });
  };
  let nick = options.nick;
  let tries = 0;
  const hello = () =>
    send({
      type: "hello",
      nick,
      ref: "hello",
      ...(options.room === undefined ? {} : { room: options.room }),
      ...(options.password === undefined ? {} : { password: options.password }),
      ...(options.identify === undefined ? {} : { identify: options.identify }),
    });
  hello();
  let ending: Ending = { kind: "lost" };
  const framer = new LineFramer(MAX_LINE_BYTES);
  const buffer = new Uint8Array(64 * 1024);
  const onEvent = (event: ServerEvent): Ending | null => {
    switch (event.type) {
      case "welcome":
        nick = event.nick;
        log(`logged in as ${nick}`);
        return null;
      case "error":
        if (event.ref !== "hello") return null;
        if (event.code === "nick_taken" && ++tries <= MAX_NICK_TRIES) {
          nick = `${nick}_`.slice(-32);
          hello();
          return null;
        }
        return { kind: "gave_up", why: event.message };
      case "message":
        if (event.from !== nick && event.text.trim() === "!ping") {
          send({ type: "message", text: `pong, ${event.from}` });
        }
        return null;
      case "ping":
        send({ type: "pong", token: event.token });
        return null;
      case "bye":
        return { kind: "bye", code: event.code, reason: event.reason };
      default:
        return null;
    }
  };
  try {
    reading: while (true) {
      const count = await conn.read(buffer);
      const frames = count === null
        ? framer.end()
        : framer.push(buffer.subarray(0, count));
      for (const frame of frames) {
        if (frame.kind !== "line") continue;
        // Lines before the first JSON reply are the text greeting.
        const event = decodeJsonEvent(frame.text);
        const result = event === null ? null : onEvent(event);
        if (result !== null) {
          ending = result;
          if (result.kind === "gave_up") break reading;
        }
      }
      if (count === null) break;
    }
  } catch {
    // Reset by the peer, or closed on abort: the connection is lost.
  } finally {
    signal.removeEventListener("abort", stop);
    try {
      conn.close();
    } catch {
      // Already closed.
    }
    await writes;
  }
  return ending;
}

/** A sleep that `signal` cuts short. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "7000" },
      nick: { type: "string", default: "pingbot" },
      room: { type: "string" },
    },
  });
  const quit = new AbortController();
  Deno.addSignalListener("SIGINT", () => quit.abort());
  Deno.addSignalListener("SIGTERM", () => quit.abort());
  const password = Deno.env.get("TERN_PASSWORD");
  const identify = Deno.env.get("TERN_NICK_PASSWORD");
  Deno.exit(
    await runBot({
      hostname: values.host,
      port: Number(values.port),
      nick: values.nick,
      ...(values.room === undefined ? {} : { room: values.room }),
      ...(password === undefined ? {} : { password }),
      ...(identify === undefined ? {} : { identify }),
    }, quit.signal),
  );
}
