/**
 * Password guessing under measurement: how many guesses a server actually
 * checks per second, and what an unrelated user feels meanwhile. Starts
 * `server.ts` (or the one given) as a subprocess listening on `::`, so the
 * attackers come from 127.0.0.1 and the bystanders from ::1, two addresses.
 *
 * - Attackers (from 127.0.0.1, `--attackers` connections, under the
 *   per-address cap): each logs in, sends a burst of guesses (half
 *   `/oper GUESS`, half `/identify victim GUESS`), and reconnects when the
 *   server closes it, for `--seconds`.
 * - A bystander (from ::1) sends `/ping` every 100 ms and records the
 *   round trip; another identifies to its own account once a second and
 *   records how long that takes.
 *
 * Run: `deno run -A bench/guessing.ts [--server PATH] [--seconds 10]
 * [--attackers 12] [--throttle-loopback]`. The last holds the attackers'
 * loopback address to `--connect-rate`, as a remote attacker would be.
 * Bounded in time and connections; prints one JSON line.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { freePort, makeTempDir, startProcess, stopAll } from "./process.ts";

const encoder = new TextEncoder();

/** Every connection still open: closed at the deadline, so no wait outlives it. */
const open = new Set<{ close(): void }>();

/** A text-mode connection that reads lines. */
class Peer {
  readonly conn: Deno.TcpConn;
  #buffer = "";
  #lines: string[] = [];
  #waiter: (() => void) | null = null;
  #ended = false;
  readonly done: Promise<void>;

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
    this.done = this.#pump();
  }

  static async open(hostname: string, port: number): Promise<Peer> {
    const peer = new Peer(await Deno.connect({ hostname, port }));
    open.add(peer);
    peer.done.finally(() => open.delete(peer));
    return peer;
  }

  async #pump(): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of this.conn.readable) {
        this.#buffer += decoder.decode(chunk, { stream: true });
        const parts = this.#buffer.split("\n");
        this.#buffer = parts.pop() ?? "";
        this.#lines.push(...parts);
        this.#wake();
      }
    } catch {
      // Reset by the server.
    } finally {
      this.#ended = true;
      this.#wake();
    }
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = null;
    waiter?.();
  }

  /** The next line, or null once the connection has ended. */
  async line(): Promise<string | null> {
    while (this.#lines.length === 0) {
      if (this.#ended) return null;
      await new Promise<void>((resolve) => (this.#waiter = resolve));
    }
    return this.#lines.shift()!;
  }

  /** Reads lines until one matches; null if the connection ends first. */
  async until(pattern: RegExp): Promise<string | null> {
    while (true) {
      const line = await this.line();
      if (line === null || pattern.test(line)) return line;
    }
  }

  async send(text: string): Promise<void> {
    const bytes = encoder.encode(text.endsWith("\n") ? text : `${text}\n`);
    let offset = 0;
    while (offset < bytes.length) {
      offset += await this.conn.write(bytes.subarray(offset));
    }
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }
}

/** Percentile of sorted numbers. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

const round = (n: number) => Math.round(n * 100) / 100;

/** Registers `nick` with `password` from ::1 and leaves. */
async function register(port: number, nick: string, password: string) {
  const peer = await Peer.open("::1", port);
  await peer.send(nick);
  await peer.until(/joined #lobby/);
  await peer.send(`/register ${password}`);
  const answer = await peer.until(/registered|Error/);
  if (answer === null || !/now registered/.test(answer)) {
    throw new Error(`could not register ${nick}: ${answer}`);
  }
  peer.close();
  await peer.done;
}

interface Tally {
  checked: { oper: number; identify: number };
  refused: number;
  connections: number;
}

/** One attacker: log in, a burst of guesses, count the answers, repeat. */
async function attack(
  port: number,
  index: number,
  until: number,
  tally: Tally,
): Promise<void> {
  let round = 0;
  while (Date.now() < until) {
    const peer = await Peer.open("127.0.0.1", port);
    tally.connections++;
    try {
      const nick = `guesser${index}x${round++}`;
      const kind = index % 2 === 0 ? "oper" : "identify";
      const guesses = Array.from(
        { length: 3 },
        (_, i) =>
          kind === "oper"
            ? `/oper guess-${round}-${i}`
            : `/identify victim guess-${round}-${i}`,
      );
      await peer.send([nick, ...guesses].join("\n"));
      let answered = 0;
      while (answered < guesses.length && Date.now() < until) {
        const line = await peer.line();
        if (line === null) break;
        if (/Wrong (operator|nickname) password/.test(line)) {
          tally.checked[kind]++;
          answered++;
        } else if (
          /Too many wrong passwords|busy|already has passwords/.test(line)
        ) {
          tally.refused++;
          answered++;
        } else if (/Disconnected|Too many/.test(line)) {
          break;
        }
      }
    } catch {
      // Refused or reset: try again.
    } finally {
      peer.close();
      await peer.done;
    }
  }
}

/** The bystander: a ping every 100 ms, round trips in milliseconds. */
async function pinger(port: number, until: number): Promise<number[]> {
  const peer = await Peer.open("::1", port);
  const rtts: number[] = [];
  try {
    await peer.send("bystander");
    await peer.until(/joined #lobby/);
    for (let i = 0; Date.now() < until; i++) {
      const start = performance.now();
      await peer.send(`/ping t${i}`);
      if (await peer.until(new RegExp(`pong t${i}$`)) === null) break;
      rtts.push(performance.now() - start);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    peer.close();
    await peer.done;
  }
  return rtts;
}

/** Someone identifying to their own account once a second: how long it takes. */
async function identifier(
  port: number,
  until: number,
  password: string,
): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; Date.now() < until; i++) {
    const peer = await Peer.open("::1", port);
    try {
      await peer.send(`member${i}`);
      await peer.until(/joined #lobby/);
      const start = performance.now();
      await peer.send(`/identify owner ${password}`);
      const answer = await peer.until(/identified|Error/);
      if (answer !== null && /identified/.test(answer)) {
        times.push(performance.now() - start);
      }
    } finally {
      peer.close();
      await peer.done;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  return times;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      server: { type: "string", default: "server.ts" },
      seconds: { type: "string", default: "10" },
      attackers: { type: "string", default: "12" },
      "throttle-loopback": { type: "boolean", default: false },
    },
  });
  const seconds = Math.min(Number(values.seconds), 120);
  const attackers = Math.min(Number(values.attackers), 15);
  const port = freePort();
  const dir = await makeTempDir("tern-guessing-");
  const server = startProcess("server", Deno.execPath(), [
    "run",
    "-A",
    values.server,
    "--host",
    "::",
    "--port",
    String(port),
    "--db",
    `${dir.path}/chat.db`,
    "--op-password",
    "the-operator-password",
    "--log-level",
    "error",
    ...(values["throttle-loopback"] ? ["--throttle-loopback"] : []),
  ]);
  try {
    await server.waitForLine(/listening on/, 20_000);
    await register(port, "victim", "victims password");
    await register(port, "owner", "owners password");
    const until = Date.now() + seconds * 1000;
    const tally: Tally = {
      checked: { oper: 0, identify: 0 },
      refused: 0,
      connections: 0,
    };
    const deadline = setTimeout(() => {
      for (const peer of open) peer.close();
    }, seconds * 1000 + 500);
    const [rtts, identifies] = await Promise.all([
      pinger(port, until),
      identifier(port, until, "owners password"),
      ...Array.from(
        { length: attackers },
        (_, i) => attack(port, i, until, tally),
      ),
    ]) as [number[], number[], ...unknown[]];
    clearTimeout(deadline);
    rtts.sort((a, b) => a - b);
    identifies.sort((a, b) => a - b);
    console.log(JSON.stringify({
      server: values.server,
      throttleLoopback: values["throttle-loopback"],
      seconds,
      attackers,
      operGuessesPerSecond: round(tally.checked.oper / seconds),
      identifyGuessesPerSecond: round(tally.checked.identify / seconds),
      guessesRefusedUnchecked: tally.refused,
      attackerConnections: tally.connections,
      pingMs: {
        count: rtts.length,
        p50: round(percentile(rtts, 0.5)),
        p99: round(percentile(rtts, 0.99)),
        max: round(rtts.at(-1) ?? NaN),
      },
      ownIdentifyMs: {
        count: identifies.length,
        p50: round(percentile(identifies, 0.5)),
        max: round(identifies.at(-1) ?? NaN),
      },
    }));
  } finally {
    await server.stop();
    await dir.remove();
    await stopAll();
  }
}
