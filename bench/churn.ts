/**
 * Connection churn against writes made at once: connections come, log in,
 * are sent private messages tagged with their own nickname and token, and
 * go abruptly (closed with lines unread, which resets them; half-closed;
 * reading stopped; or quit), while others keep arriving and a big room
 * talks. Every connection checks each line it gets: whole JSON, and its own.
 * A write made at once goes to a descriptor by its number, which a closed
 * connection hands to the next one accepted: a line reaching the wrong
 * connection, or cut, is the failure this looks for.
 *
 *   deno task bench-churn [--duration 60] [--members 200] [--churners 400]
 *                         [--sync-writes 32] [--port PORT]
 *
 * Without `--port` it starts `server.ts` itself, as `deno task start` runs
 * it (`--allow-ffi`). The test suite runs a few seconds of it
 * (tests/direct_write_churn_test.ts).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { freePort, killServersOnSignal, startProcess } from "./process.ts";
import { readMemory } from "./procstat.ts";

/** What one run is asked to do. */
export interface ChurnOptions {
  /** The server's plain TCP port on 127.0.0.1. */
  port: number;
  /** How long connections keep coming and going. */
  durationMs: number;
  /** Connections that stay in the big room, reading, the whole run. */
  members: number;
  /** Connections coming and going at any moment. */
  churners: number;
}

/** What a run saw. */
export interface ChurnReport {
  connected: number;
  closed: number;
  privatesSent: number;
  privatesReceived: number;
  roomLinesReceived: number;
  /** How the connections that went, went. */
  endings: Record<string, number>;
  /** Lines that reached the wrong connection, cut lines, lost members. */
  problems: string[];
}

const encoder = new TextEncoder();

/** Most problems kept: the first say what went wrong. */
const MAX_PROBLEMS = 20;
/** Longest a connection waits for its welcome before it counts as lost. */
const WELCOME_MS = 10_000;
/** Longest a half-closed or quitting connection waits for the server's close. */
const LINGER_MS = 2_000;
/** How a connection that goes, goes. */
const ENDINGS = ["close", "half-close", "stop-reading", "quit"] as const;
type Ending = typeof ENDINGS[number];

/** One connection and the checks on what it receives. */
class Peer {
  readonly nick: string;
  readonly token: string;
  readonly #conn: Deno.TcpConn;
  readonly #report: ChurnReport;
  #greeting = true;
  #lastSeq = -1;
  #reading = true;
  #welcome = Promise.withResolvers<boolean>();
  /** Settles when the reader stops: the server closed, or this side did. */
  readonly done: Promise<void>;
  ended = false;

  private constructor(conn: Deno.TcpConn, nick: string, report: ChurnReport) {
    this.#conn = conn;
    this.nick = nick;
    this.token = crypto.randomUUID().replaceAll("-", "").slice(0, 16);
    this.#report = report;
    this.done = this.#read();
  }

  /** Connects and says hello; {@linkcode welcomed} says when it is in. */
  static async open(
    port: number,
    nick: string,
    report: ChurnReport,
  ): Promise<Peer> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    report.connected++;
    const peer = new Peer(conn, nick, report);
    await peer.send({ type: "hello", nick });
    return peer;
  }

  /** True once welcomed; false if the connection ended first or too late. */
  welcomed(): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([
      this.#welcome.promise,
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), WELCOME_MS);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /** Sends one JSON line; false if the connection is gone. */
  async send(value: unknown): Promise<boolean> {
    const bytes = encoder.encode(JSON.stringify(value) + "\n");
    try {
      let offset = 0;
      while (offset < bytes.length) {
        offset += await this.#conn.write(bytes.subarray(offset));
      }
      return true;
    } catch {
      return false;
    }
  }

  /** Goes, as `ending` says, and waits until it is gone. */
  async end(ending: Ending): Promise<void> {
    this.ended = true;
    this.#report.endings[ending] = (this.#report.endings[ending] ?? 0) + 1;
    switch (ending) {
      case "close":
        this.close();
        break;
      case "half-close":
        await this.#conn.closeWrite().catch(() => {});
        await this.#lingerThenClose();
        break;
      case "stop-reading":
        this.#reading = false;
        await new Promise((resolve) => setTimeout(resolve, 50));
        this.close();
        break;
      case "quit":
        await this.send({ type: "quit" });
        await this.#lingerThenClose();
        break;
    }
    await this.done;
    this.#report.closed++;
  }

  /** Closes this side (lines unread reset the connection). */
  close(): void {
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }

  /** Waits a bounded time for the server to close, then closes. */
  async #lingerThenClose(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.done,
      new Promise((resolve) => timer = setTimeout(resolve, LINGER_MS)),
    ]);
    clearTimeout(timer);
    this.close();
  }

  async #read(): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    const decoder = new TextDecoder("utf-8", { fatal: true });
    let pending = new Uint8Array(0);
    try {
      while (this.#reading) {
        const count = await this.#conn.read(buffer);
        if (count === null) break;
        const joined = new Uint8Array(pending.length + count);
        joined.set(pending);
        joined.set(buffer.subarray(0, count), pending.length);
        let start = 0;
        for (let i = 0; i < joined.length; i++) {
          if (joined[i] !== 0x0a) continue;
          const line = joined.subarray(start, i);
          start = i + 1;
          let text: string;
          try {
            text = decoder.decode(line);
          } catch {
            this.#problem(`a line that is not UTF-8: ${line.length} bytes`);
            continue;
          }
          this.#check(text);
        }
        pending = joined.slice(start);
      }
    } catch {
      // Reset, or closed by this side.
    } finally {
      this.#welcome.resolve(false);
    }
  }

  #problem(what: string): void {
    const problems = this.#report.problems;
    if (problems.length < MAX_PROBLEMS) problems.push(`${this.nick}: ${what}`);
  }

  /** One whole line: its own, and whole. */
  #check(line: string): void {
    if (this.#greeting && !line.startsWith("{")) {
      if (!line.startsWith("*** ") || /tok=|seq=/.test(line)) {
        this.#problem(`a greeting line that is not one: ${line.slice(0, 200)}`);
      }
      return;
    }
    this.#greeting = false;
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(line);
    } catch {
      this.#problem(`a cut or mixed line: ${line.slice(0, 200)}`);
      return;
    }
    if (this.nick !== "pm") {
      for (const [, token, nick] of line.matchAll(/tok=(\w+) for=([\w-]+)/g)) {
        if (token !== this.token || nick !== this.nick) {
          this.#problem(`a line meant for ${nick}: ${line.slice(0, 200)}`);
        }
      }
    }
    switch (event.type) {
      case "welcome":
        if (event.nick !== this.nick) {
          this.#problem(`welcomed as ${String(event.nick)}`);
        }
        this.#welcome.resolve(true);
        break;
      case "private":
        if (this.nick === "pm") break;
        if (event.to !== this.nick) {
          this.#problem(`a private line to ${String(event.to)}`);
        }
        this.#report.privatesReceived++;
        break;
      case "message": {
        const seq = /^seq=(\d+)$/.exec(String(event.text));
        if (event.from !== "caster" || seq === null) {
          this.#problem(`a room line nobody said: ${line.slice(0, 200)}`);
          break;
        }
        if (Number(seq[1]) <= this.#lastSeq) {
          this.#problem(`room line ${seq[1]} after ${this.#lastSeq}`);
        }
        this.#lastSeq = Number(seq[1]);
        this.#report.roomLinesReceived++;
        break;
      }
    }
  }
}

/** A random whole number from `low` up to, not including, `high`. */
const between = (low: number, high: number) =>
  low + Math.floor(Math.random() * (high - low));

const pause = (ms: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs the churn against a server already listening on `port`; the server
 * must not cap connections per address or pace lines (`--max-per-address
 * 0 --flood-rate 0`), and must count a room of `members` as big.
 */
export async function runChurn(options: ChurnOptions): Promise<ChurnReport> {
  const report: ChurnReport = {
    connected: 0,
    closed: 0,
    privatesSent: 0,
    privatesReceived: 0,
    roomLinesReceived: 0,
    endings: {},
    problems: [],
  };
  const { port } = options;
  const open = async (nick: string) => {
    const peer = await Peer.open(port, nick, report);
    if (!(await peer.welcomed())) report.problems.push(`${nick}: no welcome`);
    return peer;
  };
  const caster = await open("caster");
  const pm = await open("pm");
  const members: Peer[] = [];
  for (let i = 0; i < options.members; i++) members.push(await open(`m${i}`));

  const deadline = performance.now() + options.durationMs;
  const live = new Set<Peer>();
  /** Who went lately: their queues may still hold lines for them. */
  let gone: Peer[] = [];
  let next = 0;
  const lifetimes: Promise<void>[] = [];
  const life = async (peer: Peer) => {
    if (await peer.welcomed()) {
      live.add(peer);
      await pause(between(10, 300));
    }
    live.delete(peer);
    gone.push(peer);
    await peer.end(ENDINGS[between(0, ENDINGS.length)]!);
  };
  let seq = 0;
  while (performance.now() < deadline) {
    // Newcomers, up to the number coming and going at once.
    while (next - report.closed < options.churners) {
      const peer = await Peer.open(port, `c${next++}`, report);
      lifetimes.push(life(peer));
    }
    // The room talks.
    for (let i = 0; i < 3; i++) {
      await caster.send({ type: "message", text: `seq=${seq++}` });
    }
    // Private lines: to those here, and to those just gone.
    gone = gone.slice(-50);
    const here = [...live];
    for (let i = 0; i < 10; i++) {
      const pool = i % 2 === 0 ? here : gone;
      const to = pool[between(0, pool.length)];
      if (to === undefined) continue;
      const pad = "x".repeat([0, 100, 2000][between(0, 3)]!);
      await pm.send({
        type: "private",
        to: to.nick,
        text: `tok=${to.token} for=${to.nick} ${pad}`,
      });
      report.privatesSent++;
    }
    await pause(2);
  }
  await Promise.all(lifetimes);
  for (const peer of [caster, pm, ...members]) {
    if (peer.ended) continue;
    // A peer that stayed must still be connected: nothing was done to it.
    const stillThere = await peer.send({ type: "ping", token: "end" });
    if (!stillThere) report.problems.push(`${peer.nick} lost its connection`);
    peer.close();
  }
  await Promise.all([caster, pm, ...members].map((peer) => peer.done));
  return report;
}

const USAGE = `Usage: deno task bench-churn [options]

  --duration S      seconds of churn (default 60)
  --members N       connections that stay in the big room (default 200)
  --churners N      connections coming and going at once (default 400)
  --sync-writes N   the server's --sync-writes (default 32)
  --port PORT       use the server already listening there
  --help            show this help

Exit 0 when every line reached its own connection whole, 1 otherwise.`;

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      duration: { type: "string", default: "60" },
      members: { type: "string", default: "200" },
      churners: { type: "string", default: "400" },
      "sync-writes": { type: "string", default: "32" },
      port: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const removeHandlers = killServersOnSignal();
  let port = Number(values.port ?? 0);
  let server = null;
  if (values.port === undefined) {
    port = freePort();
    server = startProcess("tern", Deno.execPath(), [
      "run",
      "-A",
      new URL("../server.ts", import.meta.url).pathname,
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "--no-http",
      "--db",
      ":memory:",
      "--big-room",
      "50",
      "--max-per-address",
      "0",
      "--flood-rate",
      "0",
      "--history",
      "0",
      "--sync-writes",
      values["sync-writes"],
      "--log-level",
      "warn",
    ]);
    await server.waitForLine(/listening on/, 15_000);
  }
  const report = await runChurn({
    port,
    durationMs: Number(values.duration) * 1000,
    members: Number(values.members),
    churners: Number(values.churners),
  });
  const memory = server === null ? null : readMemory(server.pid);
  console.log(JSON.stringify({ ...report, serverRssBytes: memory }, null, 2));
  await server?.stop();
  removeHandlers();
  Deno.exit(report.problems.length === 0 ? 0 : 1);
}
