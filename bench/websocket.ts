/**
 * `deno task bench-ws`: the WebSocket scenario. 100 clients in one room, 10
 * of them senders each keeping a window of messages in flight (a sender's
 * next message goes when its own comes back, so the rate is the most the
 * server sustains), for a fixed time. One load generator, in this process,
 * drives three servers in turn:
 *
 * - tern over WebSocket (`server.ts`, `/ws` on its HTTP port);
 * - tern over TCP in JSON mode (what scenario a of `deno task bench`
 *   measures, here with this same generator and load);
 * - a minimal broadcast server on Node's `ws` library, run under Node
 *   (bench/ws_peer.ts; `ws` is installed with npm into a temp directory).
 *
 * Figures: deliveries per second (messages received by all clients), the
 * latency from send to receipt over every delivery (p50, p99), the
 * server's CPU. Every wait is bounded; every process is stopped by its id.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Histogram } from "./stats.ts";
import { readCpu } from "./procstat.ts";
import { WS_PEER_SOURCE } from "./ws_peer.ts";

const REPO = decodeURIComponent(new URL("..", import.meta.url).pathname);
const WS_VERSION = "8.23.0";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The load, from the command line. */
interface Load {
  clients: number;
  senders: number;
  window: number;
  seconds: number;
  warmupSeconds: number;
}

/** One client's connection, whatever the transport. */
interface Link {
  send(text: string): void;
  close(): void;
}

/** A started server: where to connect, its process, how to stop it. */
interface Running {
  connect(onText: (text: string) => void): Promise<Link>;
  /** Whether clients log in with a hello (tern) or not (the ws peer). */
  hello: boolean;
  pid: number;
  stop(): Promise<void>;
}

const nowUs = () => performance.now() * 1000;

/** Reads a child's stdout lines until one matches, within `ms`. */
async function waitForLine(
  child: Deno.ChildProcess,
  pattern: RegExp,
  ms = 15_000,
): Promise<RegExpExecArray> {
  const reader = child.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  let buffered = "";
  const deadline = Date.now() + ms;
  try {
    while (Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += value;
      const match = pattern.exec(buffered);
      if (match !== null) return match;
    }
  } finally {
    reader.releaseLock();
    child.stdout.cancel().catch(() => {});
  }
  throw new Error(`no line matching ${pattern} from the server`);
}

async function stopChild(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch {
    // Already gone.
  }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }, 5000);
  await child.status;
  clearTimeout(timer);
}

/** Links the server closed, counted to show who was cut off under load. */
let closedByServer = 0;

function webSocketLink(
  url: string,
  onText: (text: string) => void,
): Promise<Link> {
  const socket = new WebSocket(url);
  let closing = false;
  socket.onclose = () => {
    if (!closing) closedByServer++;
  };
  socket.onmessage = (event) => {
    if (typeof event.data === "string") onText(event.data);
  };
  return new Promise((resolve, reject) => {
    socket.onopen = () =>
      resolve({
        send: (text) => {
          if (socket.readyState === WebSocket.OPEN) socket.send(text);
        },
        close: () => {
          closing = true;
          socket.close();
        },
      });
    socket.onerror = () => reject(new Error(`cannot connect to ${url}`));
  });
}

async function tcpLink(
  port: number,
  onText: (text: string) => void,
): Promise<Link> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  (async () => {
    let partial = "";
    for await (const chunk of conn.readable) {
      const lines = (partial + decoder.decode(chunk, { stream: true }))
        .split("\n");
      partial = lines.pop()!;
      for (const line of lines) onText(line);
    }
  })().catch(() => {});
  let writing = Promise.resolve();
  return {
    send: (text) => {
      const bytes = encoder.encode(text + "\n");
      writing = writing.then(async () => {
        let offset = 0;
        while (offset < bytes.length) {
          offset += await conn.write(bytes.subarray(offset));
        }
      }).catch(() => {});
    },
    close: () => {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    },
  };
}

/** tern as `deno task start` runs it, flood control off for the load. */
async function startTern(transport: "ws" | "tcp"): Promise<Running> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "server.ts",
      "--port",
      "0",
      "--http-port",
      "0",
      "--db",
      ":memory:",
      "--flood-rate",
      "0",
      "--max-per-address",
      "0",
      "--log-level",
      "error",
    ],
    cwd: REPO,
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const match = await waitForLine(
    child,
    /listening on [^:]+:(\d+)[\s\S]*Web client: open (http:\/\/\S+) in/,
  );
  const tcpPort = Number(match[1]);
  const wsUrl = `${match[2]!.replace("http", "ws")}ws`;
  return {
    hello: true,
    pid: child.pid,
    connect: (onText) =>
      transport === "ws"
        ? webSocketLink(wsUrl, onText)
        : tcpLink(tcpPort, onText),
    stop: () => stopChild(child),
  };
}

/** The `ws` peer under Node, with `ws` installed into a temp directory. */
async function startWsPeer(): Promise<Running> {
  const dir = `${Deno.env.get("TMPDIR") ?? "/tmp"}/tern-bench-ws-${WS_VERSION}`;
  await Deno.mkdir(dir, { recursive: true });
  try {
    await Deno.stat(`${dir}/node_modules/ws/package.json`);
  } catch {
    const install = await new Deno.Command("npm", {
      args: ["install", "--no-save", "--prefix", dir, `ws@${WS_VERSION}`],
      stdout: "null",
      stderr: "inherit",
    }).output();
    if (!install.success) throw new Error("npm install ws failed");
  }
  await Deno.writeTextFile(`${dir}/ws_peer.mjs`, WS_PEER_SOURCE);
  const child = new Deno.Command("node", {
    args: [`${dir}/ws_peer.mjs`, "0"],
    cwd: dir,
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const match = await waitForLine(child, /listening (\d+)/);
  const url = `ws://127.0.0.1:${match[1]}/`;
  return {
    hello: false,
    pid: child.pid,
    connect: (onText) => webSocketLink(url, onText),
    stop: () => stopChild(child),
  };
}

/** The marker a benchmark message carries: sender, sequence, send time. */
const MARK = /"text":"b:(\d+):(\d+):(\d+)/;

/** One run against one started server. */
async function run(server: Running, load: Load) {
  const latency = new Histogram();
  let measuring = false;
  let deliveries = 0;
  const links: Link[] = [];
  const welcomed: Array<() => void> = [];
  const senders: Array<{ next: () => void }> = [];
  for (let i = 0; i < load.clients; i++) {
    let loggedIn!: () => void;
    const ready = new Promise<void>((resolve) => loggedIn = resolve);
    welcomed.push(loggedIn);
    const link = await server.connect((text) => {
      const mark = MARK.exec(text);
      if (mark === null) {
        if (/"type":"(who|members)"/.test(text)) loggedIn();
        return;
      }
      if (measuring) {
        deliveries++;
        latency.record(nowUs() - Number(mark[3]));
      }
      if (Number(mark[1]) === i && i < load.senders) senders[i]!.next();
    });
    links.push(link);
    if (server.hello) {
      link.send(JSON.stringify({ type: "hello", nick: `c${i}` }));
      await withTimeout(ready, `client ${i} to log in`);
    }
  }
  let stopped = false;
  for (let s = 0; s < load.senders; s++) {
    let seq = 0;
    const link = links[s]!;
    const next = () => {
      if (stopped) return;
      link.send(
        JSON.stringify({
          type: "message",
          text: `b:${s}:${seq++}:${Math.round(nowUs())}`,
        }),
      );
    };
    senders.push({ next });
  }
  for (const sender of senders) {
    for (let w = 0; w < load.window; w++) sender.next();
  }
  await sleep(load.warmupSeconds * 1000);
  const cpuBefore = readCpu(server.pid)?.total ?? 0;
  const selfBefore = readCpu("self")?.total ?? 0;
  closedByServer = 0;
  measuring = true;
  const start = performance.now();
  await sleep(load.seconds * 1000);
  measuring = false;
  const elapsedS = (performance.now() - start) / 1000;
  const cpuS = (readCpu(server.pid)?.total ?? 0) - cpuBefore;
  const selfS = (readCpu("self")?.total ?? 0) - selfBefore;
  const cut = closedByServer;
  stopped = true;
  for (const link of links) link.close();
  return {
    deliveriesPerS: Math.round(deliveries / elapsedS),
    p50Ms: latency.quantile(0.5) / 1000,
    p99Ms: latency.quantile(0.99) / 1000,
    serverCpuPct: Math.round((cpuS / elapsedS) * 100),
    loadgenCpuPct: Math.round((selfS / elapsedS) * 100),
    cut,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`timed out waiting for ${what}`)),
          15_000,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      clients: { type: "string", default: "100" },
      senders: { type: "string", default: "10" },
      window: { type: "string", default: "8" },
      seconds: { type: "string", default: "10" },
      runs: { type: "string", default: "1" },
    },
  });
  const load: Load = {
    clients: Number(values.clients),
    senders: Number(values.senders),
    window: Number(values.window),
    seconds: Number(values.seconds),
    warmupSeconds: 2,
  };
  const targets: Array<[string, () => Promise<Running>]> = [
    ["tern over WebSocket", () => startTern("ws")],
    ["tern over TCP (JSON)", () => startTern("tcp")],
    [`ws ${WS_VERSION} on Node ${await nodeVersion()}`, startWsPeer],
  ];
  console.log(
    `${load.clients} clients in one room, ${load.senders} senders, window ` +
      `${load.window}, ${load.seconds} s after ${load.warmupSeconds} s warm-up`,
  );
  for (let r = 0; r < Number(values.runs); r++) {
    for (const [name, start] of targets) {
      const server = await start();
      try {
        const result = await run(server, load);
        console.log(
          `${name.padEnd(28)} ${
            String(result.deliveriesPerS).padStart(9)
          } deliveries/s  p50 ${result.p50Ms.toFixed(1)} ms  p99 ${
            result.p99Ms.toFixed(1)
          } ms  server CPU ${result.serverCpuPct}%  load generator CPU ${result.loadgenCpuPct}%  clients cut ${result.cut}`,
        );
      } finally {
        await server.stop();
      }
    }
  }
}

async function nodeVersion(): Promise<string> {
  const output = await new Deno.Command("node", { args: ["--version"] })
    .output();
  return decoder.decode(output.stdout).trim();
}
