/**
 * Scenario w: the WebSocket broadcast. Scenario a's load (clients in one
 * room, senders each keeping a window of messages in flight) against three
 * servers in turn, in the same run and with the same load generator
 * (loadgen.ts; it speaks WebSocket itself, ws_client_frames.ts):
 *
 * - tern over WebSocket: `/ws` on its HTTP port, JSON mode;
 * - tern over TCP: exactly scenario a, text mode;
 * - a minimal broadcast server on Node's `ws` library, run under Node
 *   (ws_peer.ts; `ws` is installed by npm into a temporary directory).
 *
 * The figures of each go under a prefix (`ws.`, `tcp.`, `peer.`), so a
 * run's result holds all three and the medians over runs keep each ratio
 * within one run's conditions.
 *
 * @module
 */

import { WS_PEER_SOURCE } from "./ws_peer.ts";
import { findExecutable, startProcess } from "./process.ts";
import {
  type ControlAction,
  type LoginPlan,
  type Protocol,
  startsWithBytes,
} from "./protocol.ts";
import {
  loadedRun,
  type LoadTarget,
  type Metrics,
  type RunResult,
  type ScenarioOptions,
} from "./scenarios.ts";
import type { RunningServer, ServerNeeds, Target } from "./targets.ts";

/** The `ws` release the peer runs. */
export const WS_VERSION = "8.23.0";

/** The three setups of the scenario, by the prefix of their figures. */
export const WS_SETUPS = [
  ["ws", "tern over WebSocket"],
  ["tcp", "tern over TCP (a)"],
  ["peer", `ws ${WS_VERSION} on Node`],
] as const;

const TERN_BYE = new TextEncoder().encode('{"type":"bye"');

/** A benchmark message as a JSON request: the same bytes for both servers. */
function jsonMessage(payload: string): string {
  return `${JSON.stringify({ type: "message", text: payload })}\n`;
}

/** tern's JSON mode over `/ws`: a hello, then one request per frame. */
export const TERN_WEBSOCKET_PROTOCOL: Protocol = {
  name: "tern-ws",
  webSocket: { path: "/ws" },
  login(nick: string): LoginPlan {
    return {
      send: `${JSON.stringify({ type: "hello", nick })}\n`,
      expect: ['{"type":"welcome"'],
    };
  },
  frame: jsonMessage,
  control(line: Uint8Array): ControlAction | null {
    if (startsWithBytes(line, 0, line.length, TERN_BYE)) {
      return { closing: new TextDecoder().decode(line) };
    }
    return null;
  },
};

/** The `ws` peer: no login, every frame relayed to every client. */
const wsPeerProtocol: Protocol = {
  name: "ws",
  webSocket: { path: "/" },
  login(): LoginPlan {
    return { send: "", expect: [] };
  },
  frame: jsonMessage,
  control(): ControlAction | null {
    return null;
  },
};

/** Why the `ws` peer cannot run here, or null. */
export function wsPeerMissing(): string | null {
  if (findExecutable("node") === null) return "node is not installed";
  if (findExecutable("npm") === null) return "npm is not installed";
  return null;
}

/** Installs `ws` (once per machine) and writes the peer beside it. */
async function preparePeer(): Promise<string> {
  const dir = `${Deno.env.get("TMPDIR") ?? "/tmp"}/tern-bench-ws-${WS_VERSION}`;
  await Deno.mkdir(dir, { recursive: true });
  try {
    await Deno.stat(`${dir}/node_modules/ws/package.json`);
  } catch {
    const install = await new Deno.Command("npm", {
      args: ["install", "--no-save", "--prefix", dir, `ws@${WS_VERSION}`],
      stdin: "null",
      stdout: "null",
      stderr: "inherit",
    }).output();
    if (!install.success) {
      throw new Error(`npm install ws@${WS_VERSION} failed`);
    }
  }
  await Deno.writeTextFile(`${dir}/ws_peer.mjs`, WS_PEER_SOURCE);
  return `${dir}/ws_peer.mjs`;
}

/** The `ws` broadcast peer as something a scenario can start. */
function wsPeerTarget(): LoadTarget {
  return {
    protocol: wsPeerProtocol,
    maxClients: Infinity,
    maxClientsReason: "",
    async start(): Promise<RunningServer> {
      const script = await preparePeer();
      const process = startProcess("ws", findExecutable("node")!, [
        script,
        "0",
      ]);
      try {
        const match = await process.waitForLine(/listening (\d+)/, 15_000);
        return {
          process,
          port: Number(match[1]),
          settings: [`node ws_peer.mjs (ws ${WS_VERSION})`],
          notes: [],
          stop: () => process.stop(),
        };
      } catch (error) {
        await process.stop();
        throw error;
      }
    },
  };
}

/** `target` started with `extra` needs, spoken to with `protocol`. */
function variant(
  target: Target,
  extra: Partial<ServerNeeds>,
  protocol: Protocol = target.protocol,
): LoadTarget {
  return {
    ...target,
    protocol,
    start: (needs: ServerNeeds) => target.start({ ...needs, ...extra }),
  };
}

/** Scenario w: tern over WebSocket, over TCP, and the `ws` peer. */
export async function scenarioW(
  tern: Target,
  options: ScenarioOptions,
): Promise<RunResult> {
  const load = { kind: "window", window: options.a.window } as const;
  const setups: Record<typeof WS_SETUPS[number][0], LoadTarget> = {
    ws: variant(tern, { webSocket: true }, TERN_WEBSOCKET_PROTOCOL),
    tcp: variant(tern, { noWeb: true }),
    peer: wsPeerTarget(),
  };
  const metrics: Metrics = {};
  const details: Record<string, unknown> = {};
  for (const [key] of WS_SETUPS) {
    const result = await loadedRun(
      setups[key],
      options,
      options.a.clients,
      options.a.senders,
      load,
    );
    for (const [name, value] of Object.entries(result.metrics)) {
      metrics[`${key}.${name}`] = value;
    }
    details[key] = result.details;
  }
  const ratio = (a: string, b: string) => {
    const x = metrics[a];
    const y = metrics[b];
    return typeof x === "number" && typeof y === "number" && y !== 0
      ? x / y
      : null;
  };
  metrics.wsOverPeer = ratio("ws.deliveriesPerS", "peer.deliveriesPerS");
  metrics.wsOverTcp = ratio("ws.deliveriesPerS", "tcp.deliveriesPerS");
  return { metrics, details };
}

/** The figures the table shows, by key and label. */
const ROWS: Array<[string, string]> = [
  ["clients", "clients logged in"],
  ["deliveriesPerS", "deliveries/s"],
  ["deliveryRatio", "delivery ratio"],
  ["p50Ms", "latency p50 (ms)"],
  ["p99Ms", "latency p99 (ms)"],
  ["maxMs", "latency max (ms)"],
  ["serverCpuPct", "server CPU (% of a core)"],
  ["deliveriesPerCpuS", "deliveries per server CPU-s"],
  ["serverRssPeakMiB", "server peak RSS (MiB)"],
  ["loadgenCpuPct", "load generator CPU (% of a core)"],
  ["disconnected", "readers disconnected"],
];

/**
 * The scenario's table: a column per setup, then tern over WebSocket
 * against the peer and against tern over TCP. The ratio columns are the
 * medians of each run's own ratio.
 */
export function websocketTable(
  summary: Metrics | undefined,
  format: (value: number | null | undefined) => string,
): { header: string[]; cells: string[][] } {
  const header = [
    "figure",
    ...WS_SETUPS.map(([, label]) => label),
    "WS/ws",
    "WS/TCP",
  ];
  const cells = ROWS.map(([key, label]) => {
    const value = (setup: string) => summary?.[`${setup}.${key}`];
    const over = (other: string) => {
      const x = value("ws");
      const y = value(other);
      return typeof x === "number" && typeof y === "number" && y !== 0
        ? x / y
        : null;
    };
    const ratios = key === "deliveriesPerS"
      ? [summary?.wsOverPeer, summary?.wsOverTcp]
      : [over("peer"), over("tcp")];
    return [
      label,
      ...WS_SETUPS.map(([setup]) => format(value(setup))),
      ...ratios.map(format),
    ];
  });
  return { header, cells };
}
