/**
 * The four scenarios, each a function from a target and the options to one
 * run's figures. Each run starts a fresh server, so a run's peak memory and
 * CPU belong to that run alone, and stops it in `finally`.
 *
 * - a: throughput. Clients, a few senders each keeping a bounded window of
 *   messages in flight (closed loop: a sender's window opens when one
 *   designated observer client receives its message).
 * - b: latency under moderate load. Many clients, senders paced to a fixed
 *   total rate (open loop).
 * - c: everyone in one room, the big public room: time to connect and join
 *   all of them, how many made it, the server's memory, connection resets,
 *   and the notice lines each client received (a server that announces
 *   every join to every member sends O(n²) of them).
 * - c1: idle connections each alone in a room of its own: connect time and
 *   memory per connection with no fan-out at all (what c measured before it
 *   became the one-room case, which hid the join notices' cost).
 * - d: a slow consumer. The paced load of b among fewer clients, once
 *   without and once with one client that logs in and never reads; the
 *   others' latency and the server's memory over time are compared.
 * - e: the big lobby under load: 10,000 clients in one room, a few senders
 *   paced to a total rate; latency, and the server's memory.
 * - cluster: one server vs several nodes on one Redis; in bench/cluster.ts.
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
  WindowedLoad,
} from "./loadgen.ts";
import type { ClusterOptions } from "./cluster.ts";
import {
  NativeReader,
  nativeReaderBinary,
  type NativeReport,
  NICK_TOKEN,
  type ReaderKind,
} from "./native_reader.ts";
import { readCpu, readMemory, serverSideTcpState } from "./procstat.ts";
import type { RunningServer, Target } from "./targets.ts";

/** Every knob of every scenario; see run.ts for the flags and defaults. */
export interface ScenarioOptions {
  duration: number;
  payloadBytes: number;
  concurrency: number;
  loginTimeoutMs: number;
  setupTimeoutMs: number;
  drainMs: number;
  settleMs: number;
  sampleMs: number;
  a: { clients: number; senders: number; window: number };
  b: { clients: number; senders: number; rate: number };
  /** c and c1: idle clients, set up `concurrency` at a time by a deadline. */
  c: { clients: number; concurrency: number; joinDeadlineMs: number };
  d: {
    clients: number;
    senders: number;
    rate: number;
    payloadBytes: number;
    duration: number;
  };
  /** e: one big room under paced load; set up as c is. */
  e: { clients: number; senders: number; rate: number };
  /**
   * Who reads in the paced scenarios (b, d, e) for the clients that do not
   * send: the native reader (bench/native/reader.c) or Deno clients.
   */
  reader: ReaderKind;
  /** cluster: single server vs nodes on one Redis (bench/cluster.ts). */
  cluster: ClusterOptions;
}

/**
 * What a run needs of a server: a {@linkcode Target} without its name, so a
 * scenario can also drive a server that is not one of `--targets` (the
 * WebSocket scenario's `ws` peer, bench/websocket_scenario.ts).
 */
export type LoadTarget = Omit<Target, "name" | "missing">;

/** One run's figures by name; null when not measurable for this target. */
export type Metrics = Record<string, number | null>;

/** One run of one scenario against one target. */
export interface RunResult {
  metrics: Metrics;
  /** Disconnects by reason, connect failures, RSS series, notes. */
  details: Record<string, unknown>;
}

const sleep = (ms: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, ms));

const MiB = 1024;

/** Counts clients by why they ended, leaving out the ones we closed. */
export function endReasons(clients: BenchClient[]): Record<string, number> {
  const reasons: Record<string, number> = {};
  for (const client of clients) {
    const reason = client.end?.reason;
    if (reason === undefined || reason === "local") continue;
    const key = reason.length > 120 ? `${reason.slice(0, 117)}...` : reason;
    reasons[key] = (reasons[key] ?? 0) + 1;
  }
  return reasons;
}

/** How a scenario sets up its clients, where not as the options say. */
interface Setup {
  /** Connections being set up at once. */
  concurrency?: number;
  /** Time for all of them; clients not logged in by then are not counted. */
  deadlineMs?: number;
}

/** Connects `count` clients for `target`. */
function connect(
  target: LoadTarget,
  server: RunningServer,
  meter: Meter,
  options: ScenarioOptions,
  count: number,
  client: (index: number) => {
    room: string | null;
    privileged: boolean;
    stall?: boolean;
  },
  readBufferBytes: number,
  payloadBytes: number,
  setup: Setup = {},
): Promise<Connected> {
  return connectAll({
    count,
    concurrency: setup.concurrency ?? options.concurrency,
    loginTimeoutMs: options.loginTimeoutMs,
    deadlineMs: setup.deadlineMs ?? options.setupTimeoutMs,
    client: (index) => {
      const how = client(index);
      return {
        port: server.port,
        protocol: target.protocol,
        meter,
        nick: `c${index}`,
        login: { room: how.room, privileged: how.privileged },
        readBufferBytes,
        payloadBytes,
        stallAfterLogin: how.stall ?? false,
      };
    },
  });
}

function failureDetails(connected: Connected): Record<string, number> {
  return Object.fromEntries(connected.failures);
}

/** Connections reset by the server, at login or later. */
function resets(connected: Connected, clients: BenchClient[]): number {
  let count = 0;
  for (const [why, times] of connected.failures) {
    if (/reset/i.test(why)) count += times;
  }
  for (const client of clients) {
    if (client.end && /reset/i.test(client.end.reason)) count++;
  }
  return count;
}

/**
 * Notice (non-message) lines per client: mean, max and total, over the
 * Deno clients and the native reader's if there is one.
 */
function noticeLines(
  clients: BenchClient[],
  native: NativeReport | null = null,
): Metrics {
  let total = native?.noticeLinesTotal ?? 0;
  let max = native?.noticeLinesMax ?? 0;
  const count = clients.length + (native?.readers ?? 0);
  for (const client of clients) {
    total += client.controlLines;
    max = Math.max(max, client.controlLines);
  }
  return {
    noticeLinesPerClient: count === 0 ? null : total / count,
    noticeLinesMax: count === 0 ? null : max,
    noticeLinesTotal: total,
  };
}

/** How a measured run loads the server. */
type Load =
  | { kind: "window"; window: number }
  | { kind: "paced"; rate: number };

/** What {@linkcode measuredRun} needs. */
interface MeasuredRun {
  clients: number;
  /** Seconds of load. */
  duration: number;
  senders: number;
  load: Load;
  payloadBytes: number;
  /** Add one client that logs in and then never reads. */
  stalled: boolean;
  defaultSendQueue: boolean;
  /** Bytes per client read (64 KiB unless given). */
  readBufferBytes?: number;
  setup?: Setup;
  /**
   * The compiled native reader: the clients that do not send are its, and
   * only the senders (and the stalled client, if any) are Deno clients.
   * Paced loads only (no observer).
   */
  nativeReader?: string;
}

/**
 * The common body of scenarios a, b and d: connect, let the login traffic
 * settle, load the server for the duration, let in-flight messages drain,
 * and compute the figures.
 */
async function measuredRun(
  target: LoadTarget,
  options: ScenarioOptions,
  run: MeasuredRun,
): Promise<RunResult> {
  const total = run.clients + (run.stalled ? 1 : 0);
  const server = await target.start({
    clients: total,
    defaultSendQueue: run.defaultSendQueue,
  });
  const meter = new Meter();
  let clients: BenchClient[] = [];
  let native: StartedNative | null = null;
  try {
    if (run.nativeReader !== undefined) {
      if (run.load.kind !== "paced") {
        throw new Error("the native reader serves paced loads only");
      }
      native = await startNative(run.nativeReader, run, options);
    }
    // Deno clients: everyone, the stalled one last; with the native reader,
    // the senders and the stalled one, the reader's clients numbered after.
    const denoCount = native === null
      ? total
      : Math.min(run.senders, run.clients) + (run.stalled ? 1 : 0);
    const stalledIndex = run.stalled ? denoCount - 1 : -1;
    const connected = await connect(
      target,
      server,
      meter,
      options,
      denoCount,
      (index) => ({
        room: null,
        privileged: index < run.senders,
        stall: index === stalledIndex,
      }),
      run.readBufferBytes ?? 64 * 1024,
      run.payloadBytes,
      run.setup,
    );
    clients = connected.clients;
    const joined = native === null ? null : await native.reader.join({
      host: "127.0.0.1",
      port: server.port,
      clients: Math.max(0, total - denoCount),
      firstIndex: denoCount,
      nickPrefix: "c",
      concurrency: run.setup?.concurrency ?? options.concurrency,
      joinDeadlineMs: run.setup?.deadlineMs ?? options.setupTimeoutMs,
      loginTimeoutMs: options.loginTimeoutMs,
      senders: run.senders,
      login: target.protocol.login(NICK_TOKEN, {
        room: null,
        privileged: false,
      }),
      rules: target.protocol.lineRules!,
    }, (run.setup?.deadlineMs ?? options.setupTimeoutMs) + 60_000);
    const stalled = clients.find((c) => c.nick === `c${stalledIndex}`) ?? null;
    const active = clients.filter((c) => c !== stalled);
    const senders = active.filter((c) => Number(c.nick.slice(1)) < run.senders);
    senders.forEach((client, id) => client.senderId = id);
    const observer = active.find((c) => c.senderId === -1) ?? null;
    if (observer) observer.observer = true;
    for (const client of active) {
      client.lastSeq = new Int32Array(senders.length);
    }
    const readersIn = joined?.joined ?? 0;
    if (
      senders.length === 0 ||
      (native === null ? observer === null : readersIn === 0)
    ) {
      throw new Error(
        `not enough clients logged in (${
          clients.length + readersIn
        } of ${total}): ${
          JSON.stringify({
            ...failureDetails(connected),
            ...joined?.failures,
          })
        }`,
      );
    }
    meter.begin();
    if (native !== null) {
      const reader = native.reader;
      meter.onSent = (sent) => {
        reader.sent(sent).catch(() => {});
      };
    }
    // Logins make join notices (O(n^2) of them for one shared room); let
    // them drain so they are not counted against the message load.
    await settle(server.process.pid, options.settleMs);

    const loadOptions = {
      senders,
      protocol: target.protocol,
      meter,
      payloadBytes: run.payloadBytes,
    };
    const load = run.load.kind === "window"
      ? new WindowedLoad(loadOptions, run.load.window)
      : new PacedLoad(loadOptions, run.load.rate);
    const pid = server.process.pid;
    const rssSeries: Array<[number, number]> = [];
    let stalledCutAt: number | null = null;
    const lag = new LagProbe();
    lag.start();
    const cpu0 = readCpu(pid);
    const self0 = readCpu("self");
    const reader0 = native === null ? null : readCpu(native.reader.pid);
    const t0 = performance.now();
    const sample = () => {
      const memory = readMemory(pid);
      const t = (performance.now() - t0) / 1000;
      if (memory) rssSeries.push([round(t, 2), round(memory.rssKiB / MiB, 1)]);
      if (stalled && stalledCutAt === null) {
        const state = serverSideTcpState(stalled.localPort);
        if (state !== "ESTABLISHED") stalledCutAt = t;
      }
    };
    sample();
    const sampler = setInterval(sample, options.sampleMs);
    let t1 = t0;
    let cpu1 = cpu0;
    let self1 = self0;
    let reader1 = reader0;
    try {
      meter.windowEndUs = nowUs() + run.duration * 1e6;
      await native?.reader.windowEnd(meter.windowEndUs);
      load.start();
      await sleep(run.duration * 1000);
      load.stop();
      t1 = performance.now();
      cpu1 = readCpu(pid);
      self1 = readCpu("self");
      reader1 = native === null ? null : readCpu(native.reader.pid);
      // Drain: every reader still connected gets what was sent.
      const drainUntil = performance.now() + options.drainMs;
      while (performance.now() < drainUntil) {
        if (
          active.every((c) => !c.live || c.received >= c.expected) &&
          (native === null || await native.reader.behind(meter.sent) === 0)
        ) break;
        await sleep(20);
      }
      sample();
    } finally {
      clearInterval(sampler);
      load.stop();
      lag.stop();
    }
    const seconds = (t1 - t0) / 1000;
    meter.onSent = null;
    const report = native === null
      ? null
      : await native.reader.report(meter.sent);
    let expected = report?.expected ?? 0;
    let received = report?.receivedCapped ?? 0;
    let minRatio = report?.minRatio ?? Infinity;
    for (const client of active) {
      const want = client.expected;
      expected += want;
      received += Math.min(client.received, want);
      if (want > 0) minRatio = Math.min(minRatio, client.received / want);
    }
    if (report !== null) mergeReport(meter, report);
    const serverCpu = cpu0 && cpu1 ? cpu1.total - cpu0.total : null;
    const readerCpu = reader0 && reader1 ? reader1.total - reader0.total : null;
    const selfCpu = self0 && self1
      ? self1.total - self0.total + (readerCpu ?? 0)
      : null;
    const memory = readMemory(pid);
    const latency = meter.latency;
    const disconnected = active.filter((c) =>
      c.end && c.end.reason !== "local"
    ).length +
      sumCounts(report?.disconnectReasons ?? {});
    const readerFailures = joined?.failures ?? {};
    const readerEnds = report?.disconnectReasons ?? {};
    const stalledState = stalled ? serverSideTcpState(stalled.localPort) : null;
    const metrics: Metrics = {
      clients: clients.length + readersIn,
      senders: senders.length,
      connectS: connected.seconds + (joined?.seconds ?? 0),
      sent: meter.sent,
      sentPerS: meter.sent / seconds,
      deliveries: meter.deliveries,
      deliveriesPerS: meter.windowDeliveries / seconds,
      deliveryRatio: expected === 0 ? null : received / expected,
      minReaderRatio: Number.isFinite(minRatio) ? minRatio : null,
      p50Ms: latency.quantile(0.5) / 1000,
      p90Ms: latency.quantile(0.9) / 1000,
      p99Ms: latency.quantile(0.99) / 1000,
      maxMs: latency.max / 1000,
      serverCpuS: serverCpu,
      serverCpuPct: serverCpu === null ? null : (100 * serverCpu) / seconds,
      deliveriesPerCpuS: serverCpu ? meter.windowDeliveries / serverCpu : null,
      serverRssPeakMiB: memory ? memory.hwmKiB / MiB : null,
      serverRssEndMiB: memory ? memory.rssKiB / MiB : null,
      loadgenCpuPct: selfCpu === null ? null : (100 * selfCpu) / seconds,
      readerCpuPct: readerCpu === null ? null : (100 * readerCpu) / seconds,
      loadgenLagMaxMs: lag.maxMs,
      disconnected,
      garbled: meter.garbled,
      outOfOrder: meter.outOfOrder,
      windowResets: load instanceof WindowedLoad ? load.resets : null,
      stalledCutS: stalled
        ? (stalledCutAt ?? (stalledState === "ESTABLISHED" ? null : seconds))
        : null,
      failed: total - clients.length - readersIn,
      resets: resets(connected, clients) +
        sumCounts(readerFailures, /reset/i) + sumCounts(readerEnds, /reset/i),
      ...noticeLines(active, report),
    };
    return {
      metrics,
      details: {
        readers: native === null ? "deno" : "native",
        ...(native === null ? {} : {
          nativeReader: {
            readers: readersIn,
            clock: native.calibration,
            cpuUserS: report?.cpuUserS,
            cpuSystemS: report?.cpuSystemS,
            maxRssKiB: report?.maxRssKiB,
            bytesRead: report?.bytesRead,
          },
        }),
        connectFailures: addCounts(failureDetails(connected), readerFailures),
        disconnectReasons: addCounts(endReasons(active), readerEnds),
        stalledClient: stalled
          ? { serverSideTcpStateAtEnd: stalledState, cutAfterS: stalledCutAt }
          : null,
        rssMiBSeries: rssSeries,
        serverSettings: server.settings,
        serverNotes: server.notes,
      },
    };
  } finally {
    for (const client of clients) client.close();
    await native?.reader.close();
    await server.stop();
  }
}

/** A started native reader and how its clock was tied to ours. */
interface StartedNative {
  reader: NativeReader;
  calibration: Awaited<ReturnType<NativeReader["calibrate"]>>;
}

/**
 * Starts the native reader for a run and ties its clock to ours. It exits
 * by itself once this process is gone, or past the longest the run can take.
 */
async function startNative(
  path: string,
  run: MeasuredRun,
  options: ScenarioOptions,
): Promise<StartedNative> {
  const hardMs = (run.setup?.deadlineMs ?? options.setupTimeoutMs) +
    options.settleMs + SETTLE_MAX_MS + run.duration * 1000 + options.drainMs +
    120_000;
  const reader = new NativeReader(path, hardMs / 1000);
  try {
    return { reader, calibration: await reader.calibrate() };
  } catch (error) {
    await reader.close();
    throw error;
  }
}

/** Adds the native reader's counts and latencies to the senders' meter. */
function mergeReport(meter: Meter, report: NativeReport): void {
  meter.latency.addBuckets(report.latency.buckets, report.latency);
  meter.deliveries += report.deliveries;
  meter.windowDeliveries += report.windowDeliveries;
  meter.garbled += report.garbled;
  meter.outOfOrder += report.outOfOrder;
}

/** The sum of the counts, of those whose key matches `only` if given. */
function sumCounts(counts: Record<string, number>, only?: RegExp): number {
  let sum = 0;
  for (const [key, count] of Object.entries(counts)) {
    if (only === undefined || only.test(key)) sum += count;
  }
  return sum;
}

/** Counts by reason, both sets added together. */
function addCounts(
  a: Record<string, number>,
  b: Record<string, number>,
): Record<string, number> {
  const sum = { ...a };
  for (const [key, count] of Object.entries(b)) {
    sum[key] = (sum[key] ?? 0) + count;
  }
  return sum;
}

/** Most time {@linkcode settle} waits for a server to go quiet. */
const SETTLE_MAX_MS = 30_000;

/**
 * Waits at least `minMs`, then until the server has used at most one clock
 * tick of CPU in 300 ms (it has finished the login traffic), or 30 s.
 */
async function settle(pid: number, minMs: number): Promise<void> {
  await sleep(minMs);
  const until = performance.now() + SETTLE_MAX_MS;
  let before = readCpu(pid)?.total ?? 0;
  while (performance.now() < until) {
    await sleep(300);
    const now = readCpu(pid)?.total ?? 0;
    if (now - before <= 0.01) return;
    before = now;
  }
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** Caps a client count at the target's hard limit, saying so. */
function capped(target: LoadTarget, wanted: number): {
  count: number;
  note: string | null;
} {
  if (wanted <= target.maxClients) return { count: wanted, note: null };
  return {
    count: target.maxClients,
    note: `capped at ${target.maxClients} clients: ${target.maxClientsReason}`,
  };
}

/**
 * A loaded run of `clients` (capped to the target) with `senders`; the
 * readers are `reader`'s when given (a paced load), Deno clients otherwise.
 */
export async function loadedRun(
  target: LoadTarget,
  options: ScenarioOptions,
  clients: number,
  senders: number,
  load: Load,
  reader?: Reader,
): Promise<RunResult> {
  const { count, note } = capped(target, clients);
  const result = await measuredRun(target, options, {
    clients: count,
    duration: options.duration,
    senders,
    load,
    payloadBytes: options.payloadBytes,
    stalled: false,
    defaultSendQueue: false,
    ...(reader?.path ? { nativeReader: reader.path } : {}),
  });
  if (note) result.details.capped = note;
  if (reader?.note) result.details.readerNote = reader.note;
  return result;
}

/** Scenario a: throughput with a bounded window per sender. */
export function scenarioA(
  target: Target,
  options: ScenarioOptions,
): Promise<RunResult> {
  return loadedRun(target, options, options.a.clients, options.a.senders, {
    kind: "window",
    window: options.a.window,
  });
}

/** Scenario b: latency at a fixed, moderate total rate. */
export async function scenarioB(
  target: Target,
  options: ScenarioOptions,
): Promise<RunResult> {
  return loadedRun(
    target,
    options,
    options.b.clients,
    options.b.senders,
    { kind: "paced", rate: options.b.rate },
    await pickReader(target, options.reader, "b"),
  );
}

/**
 * Idle clients, all in one room (`ownRoom` false) or each in its own: join
 * time, how many joined by the deadline, memory, resets and notice lines.
 */
async function idleRun(
  target: Target,
  options: ScenarioOptions,
  ownRoom: boolean,
): Promise<RunResult> {
  const { count, note } = capped(target, options.c.clients);
  const server = await target.start({
    clients: count,
    defaultSendQueue: false,
  });
  const meter = new Meter();
  let clients: BenchClient[] = [];
  try {
    const pid = server.process.pid;
    await settle(pid, options.settleMs);
    const before = readMemory(pid);
    const cpu0 = readCpu(pid);
    const self0 = readCpu("self");
    const connected = await connect(
      target,
      server,
      meter,
      options,
      count,
      (index) => ({ room: ownRoom ? `#i${index}` : null, privileged: false }),
      // Idle clients read little; 10,000 64 KiB buffers would be 640 MiB
      // of load generator for nothing.
      16 * 1024,
      options.payloadBytes,
      {
        concurrency: Math.min(
          options.c.concurrency,
          target.maxConcurrency ?? Infinity,
        ),
        deadlineMs: options.c.joinDeadlineMs,
      },
    );
    clients = connected.clients;
    const cpu1 = readCpu(pid);
    const self1 = readCpu("self");
    // The server may still be sending join notices: wait until it is quiet,
    // so the notices counted are all of them and the memory is at rest.
    await settle(pid, options.settleMs);
    const after = readMemory(pid);
    const alive = clients.filter((c) => c.live).length;
    const serverCpu = cpu0 && cpu1 ? cpu1.total - cpu0.total : null;
    const selfCpu = self0 && self1 ? self1.total - self0.total : null;
    const metrics: Metrics = {
      clients: alive,
      joined: clients.length,
      connectS: connected.seconds,
      connectsPerS: clients.length / connected.seconds,
      serverRssBeforeMiB: before ? before.rssKiB / MiB : null,
      serverRssAfterMiB: after ? after.rssKiB / MiB : null,
      rssAboveEmptyMiB: before && after
        ? (after.rssKiB - before.rssKiB) / MiB
        : null,
      rssPerConnKiB: before && after && alive > 0
        ? (after.rssKiB - before.rssKiB) / alive
        : null,
      serverRssPeakMiB: after ? after.hwmKiB / MiB : null,
      serverCpuS: serverCpu,
      serverCpuMsPerConn: serverCpu === null || clients.length === 0
        ? null
        : (1000 * serverCpu) / clients.length,
      loadgenCpuPct: selfCpu === null
        ? null
        : (100 * selfCpu) / connected.seconds,
      failed: count - alive,
      resets: resets(connected, clients),
      ...noticeLines(clients),
    };
    return {
      metrics,
      details: {
        requestedClients: options.c.clients,
        ...(note ? { capped: note } : {}),
        connectFailures: failureDetails(connected),
        disconnectReasons: endReasons(clients),
        serverSettings: server.settings,
        serverNotes: server.notes,
      },
    };
  } finally {
    for (const client of clients) client.close();
    await server.stop();
  }
}

/** Scenario c: everyone joins one room, the big public room. */
export function scenarioC(
  target: Target,
  options: ScenarioOptions,
): Promise<RunResult> {
  return idleRun(target, options, false);
}

/** Scenario c1: idle connections, each alone in a room of its own. */
export function scenarioC1(
  target: Target,
  options: ScenarioOptions,
): Promise<RunResult> {
  return idleRun(target, options, true);
}

/** Scenario e: the big lobby, everyone in one room, under paced load. */
export async function scenarioE(
  target: Target,
  options: ScenarioOptions,
): Promise<RunResult> {
  const { count, note } = capped(target, options.e.clients);
  const reader = await pickReader(target, options.reader, "e");
  const result = await measuredRun(target, options, {
    clients: count,
    duration: options.duration,
    senders: options.e.senders,
    load: { kind: "paced", rate: options.e.rate },
    payloadBytes: options.payloadBytes,
    stalled: false,
    defaultSendQueue: false,
    readBufferBytes: 16 * 1024,
    setup: {
      concurrency: Math.min(
        options.c.concurrency,
        target.maxConcurrency ?? Infinity,
      ),
      deadlineMs: options.c.joinDeadlineMs,
    },
    ...(reader.path === null ? {} : { nativeReader: reader.path }),
  });
  if (note) result.details.capped = note;
  if (reader.note !== null) result.details.readerNote = reader.note;
  return result;
}

/** The native reader's binary, or null and why there is none. */
interface Reader {
  path: string | null;
  note: string | null;
}

/**
 * The native reader's binary for a paced scenario when asked for and
 * possible; otherwise null and why (said on stderr too: the run falls back
 * to Deno readers).
 */
async function pickReader(
  target: LoadTarget,
  kind: ReaderKind,
  scenario: string,
): Promise<Reader> {
  if (kind === "deno") return { path: null, note: null };
  const cannot = target.protocol.lineRules === undefined ||
      target.protocol.webSocket !== undefined
    ? `the native reader does not speak ${target.protocol.name}`
    : null;
  const built = cannot === null ? await nativeReaderBinary() : null;
  const why = cannot ??
    (built !== null && "missing" in built ? built.missing : null);
  if (why !== null) {
    const note = `native reader unavailable (${why}): Deno readers used`;
    console.error(`bench: ${scenario}: ${note}`);
    return { path: null, note };
  }
  return { path: (built as { path: string }).path, note: null };
}

/** Scenario d: the same paced load without and with a client that never reads. */
export async function scenarioD(
  target: Target,
  options: ScenarioOptions,
): Promise<RunResult> {
  const reader = await pickReader(target, options.reader, "d");
  const run = {
    clients: options.d.clients - 1,
    duration: options.d.duration,
    senders: options.d.senders,
    load: { kind: "paced", rate: options.d.rate } as const,
    payloadBytes: options.d.payloadBytes,
    defaultSendQueue: true,
    ...(reader.path === null ? {} : { nativeReader: reader.path }),
  };
  const without = await measuredRun(target, options, {
    ...run,
    stalled: false,
  });
  const withStalled = await measuredRun(target, options, {
    ...run,
    stalled: true,
  });
  const a = without.metrics;
  const b = withStalled.metrics;
  const growth = (series: unknown): number | null => {
    if (!Array.isArray(series) || series.length === 0) return null;
    const values = (series as Array<[number, number]>).map(([, mib]) => mib);
    return Math.max(...values) - values[0]!;
  };
  const div = (x: number | null | undefined, y: number | null | undefined) =>
    x === null || x === undefined || !y ? null : x / y;
  return {
    metrics: {
      clients: b.clients ?? null,
      p50WithoutMs: a.p50Ms ?? null,
      p50WithMs: b.p50Ms ?? null,
      p99WithoutMs: a.p99Ms ?? null,
      p99WithMs: b.p99Ms ?? null,
      p99WithOverWithout: div(b.p99Ms, a.p99Ms),
      maxWithMs: b.maxMs ?? null,
      deliveryRatioWithout: a.deliveryRatio ?? null,
      deliveryRatioWith: b.deliveryRatio ?? null,
      rssPeakWithoutMiB: a.serverRssPeakMiB ?? null,
      rssPeakWithMiB: b.serverRssPeakMiB ?? null,
      rssGrowthWithoutMiB: growth(without.details.rssMiBSeries),
      rssGrowthWithMiB: growth(withStalled.details.rssMiBSeries),
      stalledCutS: b.stalledCutS ?? null,
      othersDisconnected: b.disconnected ?? null,
      serverCpuPctWith: b.serverCpuPct ?? null,
      loadgenCpuPct: b.loadgenCpuPct ?? null,
      readerCpuPct: b.readerCpuPct ?? null,
      outOfOrder: (a.outOfOrder ?? 0) + (b.outOfOrder ?? 0),
    },
    details: {
      readers: withStalled.details.readers,
      ...(reader.note === null ? {} : { readerNote: reader.note }),
      without: { metrics: a, ...without.details },
      withStalled: { metrics: b, ...withStalled.details },
    },
  };
}
