/**
 * The cluster scenario: what cluster mode costs. tern runs as one server
 * without Redis ("single"), and as 1 and 3 nodes of a cluster on one
 * `redis-server` started for the run; clients are spread round-robin over
 * the nodes, all in one room or spread over several rooms, and every setup
 * gets the same paced load. On a small machine every process shares the
 * same cores, so the figures show cost, not scaling: CPU per delivery and
 * per message, tern's (summed over the nodes) and Redis's own, and the
 * latency from a sender on one node to a reader on another.
 *
 * @module
 */

import {
  type BenchClient,
  connectAll,
  type Connected,
  LagProbe,
  Meter,
  nowUs,
  PacedLoad,
} from "./loadgen.ts";
import { readCpu, readMemory, readThreadsCpu } from "./procstat.ts";
import type { Protocol } from "./protocol.ts";
import { type BenchRedis, startRedis } from "./redis.ts";
import {
  endReasons,
  type Metrics,
  type RunResult,
  type ScenarioOptions,
} from "./scenarios.ts";
import { formatNumber, Histogram } from "./stats.ts";
import type { RunningServer, Target } from "./targets.ts";

/**
 * One way of running tern: "single" is one server without Redis (SQLite
 * only, the default mode); a number is that many nodes on one Redis.
 */
export type ClusterSetup = "single" | number;

/** The cluster scenario's knobs; see run.ts for flags and defaults. */
export interface ClusterOptions {
  /** Clients, spread round-robin over the nodes and over the rooms. */
  clients: number;
  /** Clients 0 .. senders-1 send; each room needs at least one. */
  senders: number;
  /** Messages per second into each room, its senders together. */
  rate: number;
  /** Setups, run in this order for each room count. */
  setups: ClusterSetup[];
  /** Room counts: 1 puts everyone in #lobby; n spreads them over #r0.. */
  rooms: number[];
}

/** One row of the results table: a metric's key and its label. */
export type ClusterRow = [key: string, label: string];

/** The figures the cluster table shows, in order. */
export const CLUSTER_ROWS: ClusterRow[] = [
  ["clients", "clients logged in"],
  ["messagesPerS", "messages sent/s"],
  ["deliveriesPerS", "deliveries/s"],
  ["deliveryRatio", "delivery ratio"],
  ["outOfOrder", "deliveries out of order"],
  ["p50Ms", "latency p50 (ms)"],
  ["p99Ms", "latency p99 (ms)"],
  ["crossP50Ms", "cross-node latency p50 (ms)"],
  ["crossP99Ms", "cross-node latency p99 (ms)"],
  ["maxMs", "latency max (ms)"],
  ["serverCpuPct", "tern CPU, all nodes (% of a core)"],
  ["redisCpuPct", "Redis CPU (% of a core)"],
  ["serverUsPerDelivery", "tern CPU per delivery (µs)"],
  ["redisUsPerDelivery", "Redis CPU per delivery (µs)"],
  ["totalUsPerDelivery", "tern + Redis CPU per delivery (µs)"],
  ["serverUsPerMessage", "tern CPU per message (µs)"],
  ["redisUsPerMessage", "Redis CPU per message (µs)"],
  ["serverIdlePct", "tern CPU idle, all nodes (% of a core)"],
  ["redisIdlePct", "Redis CPU idle (% of a core)"],
  ["serverUsPerDeliveryAboveIdle", "tern CPU per delivery above idle (µs)"],
  ["redisUsPerMessageAboveIdle", "Redis CPU per message above idle (µs)"],
  ["serverRssPeakMiB", "tern peak RSS, all nodes (MiB)"],
  ["loadgenCpuPct", "load generator CPU (% of a core)"],
  ["disconnected", "readers disconnected"],
];

/** Short key of a setup and room count, the prefix of its metrics. */
export function clusterKey(setup: ClusterSetup, rooms: number): string {
  return `${setup === "single" ? "single" : `${setup}n`}/${rooms}r`;
}

/** A column's heading: "single, 1 room", "3 nodes, 10 rooms". */
export function clusterLabel(setup: ClusterSetup, rooms: number): string {
  const how = setup === "single"
    ? "single"
    : `${setup} node${setup === 1 ? "" : "s"}`;
  return `${how}, ${rooms} room${rooms === 1 ? "" : "s"}`;
}

/** Every setup and room count, in the order they run. */
export function clusterColumns(
  options: ClusterOptions,
): Array<{ setup: ClusterSetup; rooms: number }> {
  return options.rooms.flatMap((rooms) =>
    options.setups.map((setup) => ({ setup, rooms }))
  );
}

/**
 * The table of the cluster scenario from the medians of its runs: a column
 * per setup and room count, a row per figure.
 */
export function clusterTable(
  medians: Metrics | undefined,
  options: ClusterOptions,
): { header: string[]; cells: string[][] } {
  const columns = clusterColumns(options);
  return {
    header: [
      "figure",
      ...columns.map(({ setup, rooms }) => clusterLabel(setup, rooms)),
    ],
    cells: CLUSTER_ROWS.map(([key, label]) => [
      label,
      ...columns.map(({ setup, rooms }) =>
        formatNumber(medians?.[`${clusterKey(setup, rooms)}/${key}`])
      ),
    ]),
  };
}

/**
 * Lines under the table for what its figures hide: deliveries that never
 * arrived, and readers the servers disconnected, by setup.
 */
export function clusterNotes(
  runs: RunResult[],
  medians: Metrics | undefined,
  options: ClusterOptions,
): string[] {
  const notes: string[] = [];
  for (const { setup, rooms } of clusterColumns(options)) {
    const key = clusterKey(setup, rooms);
    const label = clusterLabel(setup, rooms);
    const ratio = medians?.[`${key}/deliveryRatio`];
    if (typeof ratio === "number" && ratio < 0.999) {
      notes.push(
        `${label}: ${formatNumber(100 * (1 - ratio))}% of deliveries never ` +
          "arrived; its latency figures cover only those that did",
      );
    }
    const seen = new Map<string, number>();
    for (const run of runs) {
      const details = run.details[key] as
        | { disconnectReasons?: Record<string, number> }
        | undefined;
      for (
        const [why, count] of Object.entries(details?.disconnectReasons ?? {})
      ) {
        seen.set(why, (seen.get(why) ?? 0) + count);
      }
    }
    for (const [why, count] of seen) {
      notes.push(`${label}: disconnected ${count} x "${why}"`);
    }
  }
  return notes;
}

/**
 * tern's text mode, joining a room of its own choosing after the login: a
 * plain line then goes to that room (the last one joined is the current
 * one). With `room` null the client stays in #lobby.
 */
function joiningProtocol(base: Protocol): Protocol {
  return {
    name: base.name,
    frame: (payload) => base.frame(payload),
    control: (line) => base.control(line),
    login(nick, options) {
      if (options.room === null) return base.login(nick, options);
      return {
        send: `${nick}\n/join ${options.room}\n`,
        expect: [`*** Welcome, ${nick}!`, `*** ${nick} joined ${options.room}`],
      };
    },
  };
}

const sleep = (ms: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * How long the servers are watched doing nothing (everyone logged in, no
 * messages) before the load: their heartbeats, Redis's own timers and
 * append-only file. What a run costs above that is what the messages cost.
 */
const IDLE_WINDOW_MS = 3000;

/** Most time {@linkcode settleAll} waits for the servers to go quiet. */
const SETTLE_MAX_MS = 30_000;

/**
 * Waits at least `minMs`, then until all of `pids` together have used at
 * most one clock tick of CPU in 300 ms (the logins are done), or 30 s.
 */
async function settleAll(pids: number[], minMs: number): Promise<void> {
  const cpu = () =>
    pids.reduce((sum, pid) => sum + (readCpu(pid)?.total ?? 0), 0);
  await sleep(minMs);
  const until = performance.now() + SETTLE_MAX_MS;
  let before = cpu();
  while (performance.now() < until) {
    await sleep(300);
    const now = cpu();
    if (now - before <= 0.01) return;
    before = now;
  }
}

/** CPU seconds `pids` used between two readings, or null if one is gone. */
function cpuBetween(
  before: Array<number | null>,
  after: Array<number | null>,
): number | null {
  let sum = 0;
  for (let i = 0; i < before.length; i++) {
    const a = before[i];
    const b = after[i];
    if (a === null || a === undefined || b === null || b === undefined) {
      return null;
    }
    sum += b - a;
  }
  return sum;
}

const cpuOf = (pids: number[]) =>
  pids.map((pid) => readCpu(pid)?.total ?? null);

/**
 * Redis's CPU in nanosecond steps: a tick-counted few percent of a core
 * would be off by a tick in ten.
 */
const redisCpuOf = (pids: number[]) => pids.map(readThreadsCpu);

/** Starts the servers of a setup: Redis first when it needs one. */
async function startSetup(
  target: Target,
  setup: ClusterSetup,
  clients: number,
  servers: RunningServer[],
): Promise<BenchRedis | null> {
  const redis = setup === "single" ? null : await startRedis();
  const count = setup === "single" ? 1 : setup;
  for (let i = 0; i < count; i++) {
    servers.push(
      await target.start({
        clients,
        defaultSendQueue: false,
        ...(redis === null ? {} : { redisUrl: redis.url }),
      }),
    );
  }
  return redis;
}

/** Connects the clients: client i on node i mod nodes, in room i mod rooms. */
function connectSpread(
  target: Target,
  options: ScenarioOptions,
  servers: RunningServer[],
  meters: Meter[],
): Promise<Connected> {
  const protocol = joiningProtocol(target.protocol);
  const rooms = meters.length;
  return connectAll({
    count: options.cluster.clients,
    concurrency: options.concurrency,
    loginTimeoutMs: options.loginTimeoutMs,
    deadlineMs: options.setupTimeoutMs,
    client: (index) => ({
      port: servers[index % servers.length]!.port,
      node: index % servers.length,
      protocol,
      meter: meters[index % rooms]!,
      nick: `c${index}`,
      login: {
        room: rooms === 1 ? null : `#r${index % rooms}`,
        privileged: index < options.cluster.senders,
      },
      readBufferBytes: 64 * 1024,
      payloadBytes: options.payloadBytes,
    }),
  });
}

/** One setup with one room count: start, connect, load, measure, stop. */
async function clusterRun(
  target: Target,
  options: ScenarioOptions,
  setup: ClusterSetup,
  rooms: number,
): Promise<RunResult> {
  const { senders: senderCount, rate } = options.cluster;
  const servers: RunningServer[] = [];
  let redis: BenchRedis | null = null;
  let clients: BenchClient[] = [];
  try {
    redis = await startSetup(target, setup, options.cluster.clients, servers);
    const meters = Array.from({ length: rooms }, () => new Meter());
    const senderNode = new Int32Array(senderCount);
    if (servers.length > 1) {
      for (const meter of meters) meter.senderNode = senderNode;
    }
    const connected = await connectSpread(target, options, servers, meters);
    clients = connected.clients;
    const index = (client: BenchClient) => Number(client.nick.slice(1));
    const senders = clients.filter((client) => index(client) < senderCount);
    if (senders.length < senderCount) {
      throw new Error(
        `${senders.length} of ${senderCount} senders logged in: ${
          JSON.stringify(Object.fromEntries(connected.failures))
        }`,
      );
    }
    for (const client of clients) client.lastSeq = new Int32Array(senderCount);
    for (const sender of senders) {
      sender.senderId = index(sender);
      senderNode[sender.senderId] = sender.node;
    }
    const loads = meters.map((meter, room) =>
      new PacedLoad({
        senders: senders.filter((sender) => index(sender) % rooms === room),
        protocol: target.protocol,
        meter,
        payloadBytes: options.payloadBytes,
      }, rate)
    );
    const nodePids = servers.map((server) => server.process.pid);
    const redisPids = redis === null ? [] : [redis.process.pid];
    for (const meter of meters) meter.begin();
    await settleAll([...nodePids, ...redisPids], options.settleMs);
    const idleNodes0 = cpuOf(nodePids);
    const idleRedis0 = redisCpuOf(redisPids);
    const idleT0 = performance.now();
    // A tiny run (the smoke test) watches for as long as it loads.
    await sleep(
      Math.max(1000, Math.min(IDLE_WINDOW_MS, options.duration * 1000)),
    );
    const idleSeconds = (performance.now() - idleT0) / 1000;
    const idle = {
      seconds: idleSeconds,
      server: cpuBetween(idleNodes0, cpuOf(nodePids)),
      redis: redis === null
        ? null
        : cpuBetween(idleRedis0, redisCpuOf(redisPids)),
    };

    const lag = new LagProbe();
    lag.start();
    const nodes0 = cpuOf(nodePids);
    const redis0 = redisCpuOf(redisPids);
    const self0 = readCpu("self");
    const t0 = performance.now();
    let nodes1 = nodes0;
    let redis1 = redis0;
    let self1 = self0;
    let t1 = t0;
    try {
      const end = nowUs() + options.duration * 1e6;
      for (const meter of meters) meter.windowEndUs = end;
      for (const load of loads) load.start();
      await sleep(options.duration * 1000);
      for (const load of loads) load.stop();
      t1 = performance.now();
      nodes1 = cpuOf(nodePids);
      redis1 = redisCpuOf(redisPids);
      self1 = readCpu("self");
      const drainUntil = performance.now() + options.drainMs;
      while (performance.now() < drainUntil) {
        if (clients.every((c) => !c.live || c.received >= c.expected)) break;
        await sleep(20);
      }
    } finally {
      for (const load of loads) load.stop();
      lag.stop();
    }
    const seconds = (t1 - t0) / 1000;
    return {
      metrics: figures({
        clients,
        meters,
        seconds,
        serverCpu: cpuBetween(nodes0, nodes1),
        redisCpu: redis === null ? null : cpuBetween(redis0, redis1),
        selfCpu: self0 && self1 ? self1.total - self0.total : null,
        crossNode: servers.length > 1,
        idle,
        rssPeakMiB: nodePids.reduce(
          (sum, pid) => sum + (readMemory(pid)?.hwmKiB ?? 0) / 1024,
          0,
        ),
        lagMaxMs: lag.maxMs,
      }),
      details: {
        nodes: servers.length,
        rooms,
        connectFailures: Object.fromEntries(connected.failures),
        disconnectReasons: endReasons(clients),
        serverSettings: servers[0]?.settings.map((flag) =>
          redis !== null && flag === redis.url ? "<redis url>" : flag
        ),
        serverNotes: servers[0]?.notes,
      },
    };
  } finally {
    for (const client of clients) client.close();
    await Promise.all(servers.map((server) => server.stop()));
    await redis?.stop();
  }
}

/** What {@linkcode figures} computes a run's metrics from. */
interface Measured {
  clients: BenchClient[];
  meters: Meter[];
  seconds: number;
  serverCpu: number | null;
  redisCpu: number | null;
  selfCpu: number | null;
  crossNode: boolean;
  /** CPU seconds used over `seconds` with everyone logged in and silent. */
  idle: { seconds: number; server: number | null; redis: number | null };
  rssPeakMiB: number;
  lagMaxMs: number;
}

/** One run's metrics from its counters and CPU readings. */
function figures(m: Measured): Metrics {
  const latency = new Histogram();
  const cross = new Histogram();
  let sent = 0;
  let deliveries = 0;
  let outOfOrder = 0;
  for (const meter of m.meters) {
    latency.merge(meter.latency);
    cross.merge(meter.crossNode);
    sent += meter.sent;
    deliveries += meter.windowDeliveries;
    outOfOrder += meter.outOfOrder;
  }
  let expected = 0;
  let received = 0;
  let minRatio = Infinity;
  for (const client of m.clients) {
    const want = client.expected;
    expected += want;
    received += Math.min(client.received, want);
    if (want > 0) minRatio = Math.min(minRatio, client.received / want);
  }
  const perDelivery = (cpu: number | null) =>
    cpu === null || deliveries === 0 ? null : (1e6 * cpu) / deliveries;
  const perMessage = (cpu: number | null) =>
    cpu === null || sent === 0 ? null : (1e6 * cpu) / sent;
  const total = m.serverCpu === null ? null : m.serverCpu + (m.redisCpu ?? 0);
  // CPU above what the same span would have cost with nobody talking.
  const aboveIdle = (cpu: number | null, idle: number | null) =>
    cpu === null || idle === null
      ? null
      : cpu - (idle / m.idle.seconds) * m.seconds;
  const crossMs = (q: number) =>
    m.crossNode && cross.count > 0 ? cross.quantile(q) / 1000 : null;
  return {
    clients: m.clients.length,
    sent,
    messagesPerS: sent / m.seconds,
    deliveries,
    deliveriesPerS: deliveries / m.seconds,
    deliveryRatio: expected === 0 ? null : received / expected,
    minReaderRatio: Number.isFinite(minRatio) ? minRatio : null,
    outOfOrder,
    p50Ms: latency.quantile(0.5) / 1000,
    p99Ms: latency.quantile(0.99) / 1000,
    maxMs: latency.max / 1000,
    crossDeliveries: m.crossNode ? cross.count : null,
    crossP50Ms: crossMs(0.5),
    crossP99Ms: crossMs(0.99),
    serverCpuS: m.serverCpu,
    redisCpuS: m.redisCpu,
    serverCpuPct: m.serverCpu === null ? null : (100 * m.serverCpu) / m.seconds,
    redisCpuPct: m.redisCpu === null ? null : (100 * m.redisCpu) / m.seconds,
    serverUsPerDelivery: perDelivery(m.serverCpu),
    redisUsPerDelivery: perDelivery(m.redisCpu),
    totalUsPerDelivery: perDelivery(total),
    serverUsPerMessage: perMessage(m.serverCpu),
    redisUsPerMessage: perMessage(m.redisCpu),
    serverIdlePct: m.idle.server === null
      ? null
      : (100 * m.idle.server) / m.idle.seconds,
    redisIdlePct: m.idle.redis === null
      ? null
      : (100 * m.idle.redis) / m.idle.seconds,
    serverUsPerDeliveryAboveIdle: perDelivery(
      aboveIdle(m.serverCpu, m.idle.server),
    ),
    redisUsPerMessageAboveIdle: perMessage(aboveIdle(m.redisCpu, m.idle.redis)),
    serverRssPeakMiB: m.rssPeakMiB,
    loadgenCpuPct: m.selfCpu === null ? null : (100 * m.selfCpu) / m.seconds,
    loadgenLagMaxMs: m.lagMaxMs,
    disconnected: m.clients.filter((c) => c.end && c.end.reason !== "local")
      .length,
  };
}

/**
 * The cluster scenario: every setup with every room count, one after the
 * other within a run (so drift on a shared machine hits them alike). The
 * metrics of each are keyed `<setup>/<rooms>r/<figure>`, e.g.
 * `3n/10r/crossP99Ms`.
 */
export async function scenarioCluster(
  target: Target,
  options: ScenarioOptions,
): Promise<RunResult> {
  const metrics: Metrics = {};
  const details: Record<string, unknown> = {};
  for (const { setup, rooms } of clusterColumns(options.cluster)) {
    const key = clusterKey(setup, rooms);
    const result = await clusterRun(target, options, setup, rooms);
    for (const [name, value] of Object.entries(result.metrics)) {
      metrics[`${key}/${name}`] = value;
    }
    details[key] = result.details;
  }
  return { metrics, details };
}
