/**
 * Soak test: hundreds of clients chatting, moving between rooms, leaving and
 * coming back, for a set time, against the real server in a subprocess. It
 * prints the server's resident memory over time and fails (exit 1) if that
 * memory keeps growing, or if any live, reading client missed a message.
 *
 *   deno task soak [--clients 200] [--duration 60] [--rooms 8]
 *
 * The delivery check: each room's messages are the ids any client saw in
 * it. A client that stayed in a room from its own join to its own leave must
 * have received, in order, every id between the first and the last it saw
 * there; anything missing in between is a lost delivery.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { LineFramer } from "../protocol.ts";
import { readMemory } from "./procstat.ts";

/** What one run is asked to do. */
interface SoakOptions {
  clients: number;
  durationSeconds: number;
  rooms: number;
  /** Mean seconds between one client's messages. */
  messageEverySeconds: number;
  sampleEverySeconds: number;
}

const encoder = new TextEncoder();

/** The `--help` text. */
const USAGE = `Usage: deno task soak [options]

  --clients N        clients chatting at once (default 200)
  --duration S       seconds to run (default 60)
  --rooms N          rooms they move between (default 8)
  --message-every S  mean seconds between one client's messages (default 1)
  --sample-every S   seconds between memory samples (default 5)
  --help             show this help

Exit 0 when no reading client missed a message and memory did not keep
growing, 1 otherwise, 2 on bad flags.`;

/** Messages one client saw while in one room, between its join and leave. */
interface Stay {
  room: string;
  ids: number[];
  /** Ended by the client's own leave (or the end of the run). */
  closed: boolean;
}

/** One chatting client with its record of what it received. */
class SoakClient {
  readonly nick: string;
  stays: Stay[] = [];
  sent = 0;
  received = 0;
  disconnects = 0;
  #conn: Deno.TcpConn | null = null;
  #current: Stay | null = null;
  #reader: Promise<void> = Promise.resolve();

  constructor(nick: string) {
    this.nick = nick;
  }

  get connected(): boolean {
    return this.#conn !== null;
  }

  async connect(port: number, room: string): Promise<void> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    this.#conn = conn;
    this.#reader = this.#read(conn);
    await this.#send({ type: "hello", nick: this.nick, room });
  }

  async #read(conn: Deno.TcpConn): Promise<void> {
    const framer = new LineFramer(1 << 22);
    const buffer = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const count = await conn.read(buffer);
        if (count === null) break;
        for (const frame of framer.push(buffer.subarray(0, count))) {
          if (frame.kind === "line" && frame.text.startsWith("{")) {
            this.#onEvent(JSON.parse(frame.text));
          }
        }
      }
    } catch {
      // Closed by us, or by the server.
    } finally {
      this.#endStay();
      if (this.#conn === conn) {
        this.#conn = null;
        this.disconnects++;
      }
    }
  }

  #onEvent(event: Record<string, unknown>): void {
    switch (event.type) {
      case "join":
        if (event.nick === this.nick) {
          this.#endStay();
          this.#current = { room: String(event.room), ids: [], closed: false };
          this.stays.push(this.#current);
        }
        break;
      case "leave":
        if (event.nick === this.nick) this.#endStay();
        break;
      case "message":
        this.received++;
        if (this.#current !== null && this.#current.room === event.room) {
          this.#current.ids.push(Number(event.id));
        }
        break;
      case "ping":
        this.#send({ type: "pong", token: event.token }).catch(() => {});
        break;
    }
  }

  #endStay(): void {
    if (this.#current !== null) this.#current.closed = true;
    this.#current = null;
  }

  #send(request: unknown): Promise<number> {
    const conn = this.#conn;
    if (conn === null) return Promise.resolve(0);
    return conn.write(encoder.encode(JSON.stringify(request) + "\n"));
  }

  async say(text: string): Promise<void> {
    this.sent++;
    await this.#send({ type: "message", text });
  }

  /**
   * Moves to `room`: parts the current room, then joins. A join alone keeps
   * the rooms already joined, and a soak of clients collecting every room
   * would measure something else than moving people.
   */
  async join(room: string): Promise<void> {
    await this.#send({ type: "part" });
    await this.#send({ type: "join", room });
  }

  /** Leaves with /quit and waits for the connection to close. */
  async quit(): Promise<void> {
    const conn = this.#conn;
    if (conn === null) return;
    this.#conn = null;
    try {
      await conn.write(encoder.encode(JSON.stringify({ type: "quit" }) + "\n"));
    } catch {
      // Already closing.
    }
    const closed = this.#reader;
    const timer = setTimeout(() => {
      try {
        conn.close();
      } catch {
        // Closed by the server already.
      }
    }, 3000);
    await closed;
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // Closed by the server already.
    }
  }
}

/** Lost deliveries: ids between a stay's first and last that it lacks. */
function findLosses(clients: SoakClient[]): string[] {
  const roomIds = new Map<string, Set<number>>();
  for (const client of clients) {
    for (const stay of client.stays) {
      const ids = roomIds.get(stay.room) ?? new Set();
      for (const id of stay.ids) ids.add(id);
      roomIds.set(stay.room, ids);
    }
  }
  const sorted = new Map(
    [...roomIds].map(([room, ids]) => [room, [...ids].sort((a, b) => a - b)]),
  );
  const losses: string[] = [];
  for (const client of clients) {
    for (const stay of client.stays) {
      if (stay.ids.length < 2) continue;
      for (let i = 1; i < stay.ids.length; i++) {
        if (stay.ids[i]! <= stay.ids[i - 1]!) {
          losses.push(
            `${client.nick} in ${stay.room}: out of order at ${stay.ids[i]}`,
          );
        }
      }
      const first = stay.ids[0]!;
      const last = stay.ids.at(-1)!;
      const got = new Set(stay.ids);
      const all = sorted.get(stay.room)!;
      for (const id of all) {
        if (id > first && id < last && !got.has(id)) {
          losses.push(`${client.nick} in ${stay.room}: missed message ${id}`);
        }
      }
    }
  }
  return losses;
}

/** Whether memory kept growing: the last third's peak well above the middle's. */
function memoryGrew(samplesKiB: number[]): { grew: boolean; detail: string } {
  const third = Math.floor(samplesKiB.length / 3);
  if (third < 2) return { grew: false, detail: "too few samples to judge" };
  const middle = Math.max(...samplesKiB.slice(third, 2 * third));
  const last = Math.max(...samplesKiB.slice(2 * third));
  const allowed = middle * 1.25 + 8 * 1024;
  return {
    grew: last > allowed,
    detail: `peak of the middle third ${(middle / 1024).toFixed(1)} MiB, ` +
      `of the last third ${(last / 1024).toFixed(1)} MiB (allowed ${
        (allowed / 1024).toFixed(1)
      })`,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts the server with its history in a SQLite file under `dir`, as a
 * deployment would run it.
 */
async function startServer(
  dir: string,
): Promise<{ child: Deno.ChildProcess; port: number }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-write",
      new URL("../server.ts", import.meta.url).pathname,
      "--db",
      `${dir}/chat.db`,
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--flood-rate",
      "0",
      "--max-per-address",
      "0",
      "--log-level",
      "warn",
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/listening on \S+:(\d+)/.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error("server exited before listening");
    text += value;
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  return { child, port: Number(text.match(/listening on \S+:(\d+)/)![1]) };
}

/** Runs one soak; resolves to the exit code. */
export async function soak(options: SoakOptions): Promise<number> {
  const dir = await Deno.makeTempDir({ prefix: "tern-soak-" });
  const { child, port } = await startServer(dir);
  const rooms = Array.from({ length: options.rooms }, (_, i) => `#room${i}`);
  const clients = Array.from(
    { length: options.clients },
    (_, i) => new SoakClient(`soak${i}`),
  );
  const samples: number[] = [];
  let sampleFailure: string | null = null;
  const started = performance.now();
  const deadline = started + options.durationSeconds * 1000;
  const elapsed = () => ((performance.now() - started) / 1000).toFixed(0);
  console.log(
    `soak: ${options.clients} clients, ${options.rooms} rooms, ${options.durationSeconds} s, server pid ${child.pid}`,
  );
  try {
    await Promise.all(
      clients.map((client, i) =>
        client.connect(port, rooms[i % rooms.length]!)
      ),
    );
    const sampler = setInterval(() => {
      const memory = readMemory(child.pid);
      if (memory === null) {
        sampleFailure ??= `cannot read /proc/${child.pid}/status ` +
          "(the soak needs --allow-all to read another process's /proc)";
        return;
      }
      samples.push(memory.rssKiB);
      const sent = clients.reduce((sum, c) => sum + c.sent, 0);
      const received = clients.reduce((sum, c) => sum + c.received, 0);
      console.log(
        `t=${elapsed()}s rss=${
          (memory.rssKiB / 1024).toFixed(1)
        }MiB connected=${
          clients.filter((c) => c.connected).length
        } sent=${sent} delivered=${received}`,
      );
    }, options.sampleEverySeconds * 1000);
    try {
      await Promise.all(clients.map(async (client, i) => {
        let seq = 0;
        while (performance.now() < deadline) {
          await sleep(
            Math.random() * 2 * options.messageEverySeconds * 1000,
          );
          if (performance.now() >= deadline) break;
          const roll = Math.random();
          if (!client.connected) {
            await client.connect(port, rooms[(i + seq) % rooms.length]!)
              .catch(() => {});
          } else if (roll < 0.03) {
            await client.join(rooms[Math.floor(Math.random() * rooms.length)]!)
              .catch(() => {});
          } else if (roll < 0.04) {
            await client.quit();
          } else {
            await client.say(`soak message ${seq++} from ${client.nick}`)
              .catch(() => {});
          }
        }
      }));
    } finally {
      clearInterval(sampler);
    }
    await Promise.all(clients.map((client) => client.quit()));
  } finally {
    try {
      child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
  const sent = clients.reduce((sum, c) => sum + c.sent, 0);
  const received = clients.reduce((sum, c) => sum + c.received, 0);
  const unexpected = clients.reduce((sum, c) => sum + c.disconnects, 0);
  const losses = findLosses(clients);
  const memory = memoryGrew(samples);
  const peak = Math.max(...samples);
  console.log(
    `done: ${sent} messages sent, ${received} delivered, ` +
      `peak rss ${(peak / 1024).toFixed(1)} MiB; ${memory.detail}`,
  );
  console.log(`unexpected disconnects: ${unexpected}`);
  if (losses.length > 0) {
    console.log(`LOST DELIVERIES (${losses.length}):`);
    for (const loss of losses.slice(0, 20)) console.log(`  ${loss}`);
  }
  if (memory.grew) console.log("MEMORY GREW without bound");
  if (samples.length === 0) {
    console.log(
      `NO MEMORY SAMPLES: ${sampleFailure ?? "the run was too short"}`,
    );
  }
  const ok = losses.length === 0 && !memory.grew && unexpected === 0 &&
    samples.length > 0;
  console.log(ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}

if (import.meta.main) {
  let options: SoakOptions;
  try {
    const { values } = parseArgs({
      args: Deno.args,
      strict: true,
      options: {
        clients: { type: "string", default: "200" },
        duration: { type: "string", default: "60" },
        rooms: { type: "string", default: "8" },
        "message-every": { type: "string", default: "1" },
        "sample-every": { type: "string", default: "5" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help) {
      console.log(USAGE);
      Deno.exit(0);
    }
    options = {
      clients: Number(values.clients),
      durationSeconds: Number(values.duration),
      rooms: Number(values.rooms),
      messageEverySeconds: Number(values["message-every"]),
      sampleEverySeconds: Number(values["sample-every"]),
    };
    for (const [name, value] of Object.entries(options)) {
      if (!Number.isFinite(value) || value <= 0) {
        throw new Error(`${name} must be a positive number`);
      }
    }
  } catch (error) {
    console.error(
      `soak: ${error instanceof Error ? error.message.split("\n")[0] : error}`,
    );
    Deno.exit(2);
  }
  Deno.exit(await soak(options));
}
