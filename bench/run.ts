/**
 * The benchmark's command line: parses the flags, runs each scenario against
 * each target (fresh server per run, targets interleaved within a run so
 * drift on a shared machine hits them alike), prints a table per scenario
 * with the median of the runs and the ratio ours/peer for every figure, and
 * writes everything, per run, to a JSON file.
 *
 * Run it: `deno run -A bench/run.ts [options]`; `--help` lists them.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  clusterNotes,
  type ClusterSetup,
  clusterTable,
  scenarioCluster,
} from "./cluster.ts";
import type { ReaderKind } from "./native_reader.ts";
import { machineInfo } from "./procstat.ts";
import { killServersOnSignal, stopAll } from "./process.ts";
import { redisMissing } from "./redis.ts";
import { ensureOpenFiles } from "./rlimit.ts";
import { measureFloor, type WriteFloor } from "./write_floor.ts";
import {
  scenarioW,
  websocketTable,
  wsPeerMissing,
} from "./websocket_scenario.ts";
import {
  type Metrics,
  type RunResult,
  scenarioA,
  scenarioB,
  scenarioC,
  scenarioC1,
  scenarioD,
  scenarioE,
  type ScenarioOptions,
} from "./scenarios.ts";
import {
  formatNumber,
  markdownTable,
  median,
  ratio,
  textTable,
} from "./stats.ts";
import {
  ncatTarget,
  ngircdTarget,
  type Target,
  TARGET_NAMES,
  type TargetName,
  type TernDb,
  ternTarget,
} from "./targets.ts";

const BENCH_DIR = decodeURIComponent(new URL(".", import.meta.url).pathname);
const REPO_DIR = decodeURIComponent(new URL("..", import.meta.url).pathname);

/** Scenario ids in the order they run. */
const SCENARIO_IDS = ["a", "b", "c", "c1", "d", "e", "cluster", "w"] as const;
type ScenarioId = typeof SCENARIO_IDS[number];

/**
 * One row of a results table: a metric's key and how it is labelled; a row
 * marked "machine" is a figure of the machine, measured once for the
 * scenario, the same in every target's column (left out when not measured).
 */
type Row = [key: string, label: string, machine?: "machine"];

/** What each scenario is, how it runs, and which figures it shows. */
const SCENARIOS: Record<ScenarioId, {
  title: (o: ScenarioOptions) => string;
  run: (target: Target, options: ScenarioOptions) => Promise<RunResult>;
  rows: Row[];
}> = {
  a: {
    title: (o) =>
      `a. throughput: ${o.a.clients} clients, ${o.a.senders} senders, ` +
      `window ${o.a.window} per sender, ${o.duration} s`,
    run: scenarioA,
    rows: [
      ["clients", "clients logged in"],
      ["connectS", "connect + login, all (s)"],
      ["deliveriesPerS", "deliveries/s"],
      ["sentPerS", "messages sent/s"],
      ["deliveryRatio", "delivery ratio"],
      ["minReaderRatio", "worst reader's ratio"],
      ["p50Ms", "latency p50 (ms)"],
      ["p90Ms", "latency p90 (ms)"],
      ["p99Ms", "latency p99 (ms)"],
      ["maxMs", "latency max (ms)"],
      ["serverCpuPct", "server CPU (% of a core)"],
      ["deliveriesPerCpuS", "deliveries per server CPU-s"],
      ["serverRssPeakMiB", "server peak RSS (MiB)"],
      ["loadgenCpuPct", "load generator CPU (% of a core)"],
      ["loadgenLagMaxMs", "load generator event-loop lag max (ms)"],
      ["disconnected", "readers disconnected"],
      ["garbled", "messages cut by the relay"],
      ["windowResets", "window resets (stuck sender)"],
    ],
  },
  b: {
    title: (o) =>
      `b. latency: ${o.b.clients} clients, ${o.b.senders} senders, ` +
      `${o.b.rate} msgs/s in total, ${o.duration} s`,
    run: scenarioB,
    rows: [
      ["clients", "clients logged in"],
      ["connectS", "connect + login, all (s)"],
      ["deliveriesPerS", "deliveries/s"],
      ["deliveryRatio", "delivery ratio"],
      ["minReaderRatio", "worst reader's ratio"],
      ["p50Ms", "latency p50 (ms)"],
      ["p90Ms", "latency p90 (ms)"],
      ["p99Ms", "latency p99 (ms)"],
      ["maxMs", "latency max (ms)"],
      ["serverCpuPct", "server CPU (% of a core)"],
      ["serverRssPeakMiB", "server peak RSS (MiB)"],
      ["loadgenCpuPct", "load generator CPU (% of a core)"],
      ["readerCpuPct", "of which the native reader (% of a core)"],
      ["loadgenLagMaxMs", "load generator event-loop lag max (ms)"],
      ["disconnected", "readers disconnected"],
      ["garbled", "messages cut by the relay"],
      ["outOfOrder", "messages out of order"],
    ],
  },
  c: {
    title: (o) =>
      `c. one big room: ${o.c.clients} clients join #lobby, ` +
      `${o.c.concurrency} connecting at a time, ` +
      `${o.c.joinDeadlineMs / 1000} s allowed`,
    run: scenarioC,
    rows: [
      ["joined", "clients joined"],
      ["failed", "clients not joined or dropped"],
      ["resets", "connection resets"],
      ["connectS", "join time, all (s)"],
      ["connectsPerS", "joins/s"],
      ["serverRssBeforeMiB", "server RSS empty (MiB)"],
      ["serverRssAfterMiB", "server RSS after (MiB)"],
      ["rssAboveEmptyMiB", "server RSS above empty (MiB)"],
      ["serverRssPeakMiB", "server peak RSS (MiB)"],
      ["serverCpuMsPerConn", "server CPU per join (ms)"],
      ["noticeLinesPerClient", "notice lines per client, mean"],
      ["noticeLinesMax", "notice lines per client, max"],
      ["noticeLinesTotal", "notice lines, all clients"],
      ["loadgenCpuPct", "load generator CPU (% of a core)"],
    ],
  },
  c1: {
    title: (o) =>
      `c1. idle: ${o.c.clients} connections, each alone in its own room`,
    run: scenarioC1,
    rows: [
      ["clients", "connections logged in"],
      ["failed", "connections failed"],
      ["connectS", "connect + login, all (s)"],
      ["connectsPerS", "logins/s"],
      ["serverRssBeforeMiB", "server RSS before (MiB)"],
      ["serverRssAfterMiB", "server RSS after (MiB)"],
      ["rssPerConnKiB", "server RSS per connection (KiB)"],
      ["serverCpuMsPerConn", "server CPU per login (ms)"],
      ["noticeLinesPerClient", "notice lines per client, mean"],
      ["loadgenCpuPct", "load generator CPU (% of a core)"],
    ],
  },
  d: {
    title: (o) =>
      `d. slow consumer: ${o.d.clients} clients (one never reads) vs ${
        o.d.clients - 1
      } without it; ${o.d.senders} senders, ${o.d.rate} msgs/s of ` +
      `${o.d.payloadBytes} B, ${o.d.duration} s, server's default send queue`,
    run: scenarioD,
    rows: [
      ["clients", "clients (with the stalled one)"],
      ["p50WithoutMs", "others' p50 without (ms)"],
      ["p50WithMs", "others' p50 with (ms)"],
      ["p99WithoutMs", "others' p99 without (ms)"],
      ["p99WithMs", "others' p99 with (ms)"],
      ["p99WithOverWithout", "p99 with / without"],
      ["maxWithMs", "others' max with (ms)"],
      ["deliveryRatioWithout", "others' delivery ratio without"],
      ["deliveryRatioWith", "others' delivery ratio with"],
      ["stalledCutS", "stalled client cut off after (s)"],
      ["rssPeakWithoutMiB", "server peak RSS without (MiB)"],
      ["rssPeakWithMiB", "server peak RSS with (MiB)"],
      ["rssGrowthWithoutMiB", "RSS growth during run without (MiB)"],
      ["rssGrowthWithMiB", "RSS growth during run with (MiB)"],
      ["othersDisconnected", "other readers disconnected"],
      ["serverCpuPctWith", "server CPU with (% of a core)"],
      ["loadgenCpuPct", "load generator CPU with (% of a core)"],
      ["readerCpuPct", "of which the native reader (% of a core)"],
      ["outOfOrder", "messages out of order, both runs"],
    ],
  },
  e: {
    title: (o) =>
      `e. big lobby: ${o.e.clients} clients in one room, ${o.e.senders} ` +
      `senders, ${o.e.rate} msgs/s in total, ${o.duration} s`,
    run: scenarioE,
    rows: [
      ["clients", "clients joined"],
      ["failed", "clients not joined"],
      ["resets", "connection resets"],
      ["connectS", "join time, all (s)"],
      ["deliveriesPerS", "deliveries/s"],
      ["deliveryRatio", "delivery ratio"],
      ["minReaderRatio", "worst reader's ratio"],
      ["p50Ms", "latency p50 (ms)"],
      ["p90Ms", "latency p90 (ms)"],
      ["p99Ms", "latency p99 (ms)"],
      ["maxMs", "latency max (ms)"],
      [
        "floorRoundMs",
        "floor: one C write to each reader, round (ms)",
        "machine",
      ],
      ["floorCpuUsPerWrite", "floor: C writer CPU per write (µs)", "machine"],
      ["serverCpuPct", "server CPU (% of a core)"],
      ["serverRssPeakMiB", "server peak RSS (MiB)"],
      ["serverRssEndMiB", "server RSS at end (MiB)"],
      ["noticeLinesPerClient", "notice lines per client, mean"],
      ["loadgenCpuPct", "load generator CPU (% of a core)"],
      ["readerCpuPct", "of which the native reader (% of a core)"],
      ["loadgenLagMaxMs", "load generator event-loop lag max (ms)"],
      ["disconnected", "readers disconnected"],
      ["outOfOrder", "messages out of order"],
    ],
  },
  cluster: {
    title: (o) =>
      `cluster: tern alone vs nodes on one Redis; ${o.cluster.clients} ` +
      `clients spread over the nodes, ${o.cluster.senders} senders, ` +
      `${o.cluster.rate} msgs/s per room, ${o.duration} s`,
    run: scenarioCluster,
    // Its table has a column per setup (bench/cluster.ts), not per target.
    rows: [],
  },
  w: {
    title: (o) =>
      `w. WebSocket: scenario a's load (${o.a.clients} clients, ` +
      `${o.a.senders} senders, window ${o.a.window}, ${o.duration} s) on tern ` +
      "over WebSocket, tern over TCP and Node's ws",
    run: scenarioW,
    // Its table has a column per setup (bench/websocket_scenario.ts).
    rows: [],
  },
};

const USAGE = `Usage: deno run -A bench/run.ts [options]

Benchmarks tern against ncat --chat and ngIRCd on 127.0.0.1 with one load
generator. Prints a table per scenario and writes JSON.

  --targets LIST        tern,ncat,ngircd (default all three)
  --scenarios LIST      a,b,c,c1,d,e,cluster,w (default all; cluster runs
                        tern only and needs redis-server; w runs tern over
                        WebSocket, over TCP and Node's ws with a's load, and
                        needs node and npm)
  --runs N              runs per scenario and target; tables show medians (1)
  --duration S          seconds of load in a, b and d (10)
  --size BYTES          message payload size in a and b (64)
  --window N            a: messages in flight per sender (64)
  --a-clients N         a: clients (100)        --a-senders N   (10)
  --b-clients N         b: clients (1000)       --b-senders N   (10)
  --b-rate N            b: messages per second, all senders (200)
  --c-clients N         c, c1: idle connections (10000)
  --c-concurrency N     c, c1, e: connections set up at once (256)
  --join-deadline S     c, c1, e: time all clients get to join; those not in
                        by then count as not joined (60)
  --d-clients N         d: clients, the stalled one included (50)
  --d-senders N         d: senders (5)
  --d-rate N            d: messages per second, all senders (2000)
  --d-size BYTES        d: message payload size (400)
  --e-clients N         e: clients in the one room (10000)
  --e-senders N         e: senders (10)
  --e-rate N            e: messages per second, all senders (100)
  --e-floor on|off      e: first measure the machine's floor, once: one C
                        program writing 200 B once to each of --e-clients
                        loopback sockets read by one C epoll reader (5
                        rounds, bench/native/write_cost.c), shown as rows of
                        e's table; skipped, with a note, without a C
                        compiler (on)
  --reader native|deno  b, d, e: who reads for the clients that do not send:
                        one C process with epoll (bench/native/reader.c,
                        compiled with cc or gcc on first use), or Deno clients
                        in this process as the senders are; without a C
                        compiler, native falls back to deno and says so
                        (native; --e-reader is the same flag)
  --cluster-clients N   cluster: clients, spread round-robin over the nodes
                        and the rooms (200)
  --cluster-senders N   cluster: senders, at least one per room (10)
  --cluster-rate N      cluster: messages per second into each room (50)
  --cluster-nodes LIST  cluster: setups; "single" is tern without Redis, a
                        number that many nodes on one redis-server started
                        for the run (single,1,3)
  --cluster-rooms LIST  cluster: room counts; 1 is everyone in #lobby (1,10)
  --d-duration S        d: seconds of load, each of its two runs (--duration);
                        the kernel buffers ~4 MiB for a client that does not
                        read, so at the default rate a server can cut it off
                        only after about 5 s
  --concurrency N       connections set up at once (8; ncat's backlog is 10)
  --login-timeout S     time one client may take to log in (30)
  --setup-timeout S     time all clients of a run may take (300)
  --settle S            pause after logins before measuring; then waits
                        (up to 30 s) for the server's CPU to go quiet (1)
  --drain S             time allowed for in-flight messages after a run (3)
  --sample S            server RSS sampling interval (0.5)
  --tern-server PATH    tern's server.ts (default: this checkout's)
    --tern-profile DIR    write a V8 CPU profile of each tern server to DIR
                        (summarize one with: deno run -R bench/cpuprofile.ts FILE)
  --tern-db file|memory tern's history database: a fresh file per run in a
                        temporary directory, or SQLite :memory: (file)
  --out PATH            JSON results file (bench/results/latest.json)
  --markdown            also print the tables as Markdown
  --help                show this help`;

/** A command-line mistake: one line on stderr, exit 2. */
class UsageError extends Error {}

/** Everything the command line decides. */
interface RunOptions {
  targets: TargetName[];
  scenarios: ScenarioId[];
  runs: number;
  scenario: ScenarioOptions;
  ternServer: string;
  ternDb: TernDb;
  /** Where tern's CPU profiles go, if anywhere. */
  ternProfile: string | null;
  /** Whether scenario e measures the machine's write floor first. */
  eFloor: boolean;
  out: string;
  markdown: boolean;
}

function parseList<T extends string>(
  flag: string,
  text: string,
  allowed: readonly T[],
): T[] {
  const items = text.split(",").map((item) => item.trim()).filter(Boolean);
  for (const item of items) {
    if (!allowed.includes(item as T)) {
      throw new UsageError(
        `--${flag}: unknown "${item}"; choose from ${allowed.join(",")}`,
      );
    }
  }
  if (items.length === 0) throw new UsageError(`--${flag} is empty`);
  return [...new Set(items as T[])];
}

/** Whole numbers of at least 1, comma-separated, in the order given. */
function parseCounts(flag: string, text: string): number[] {
  const items = text.split(",").map((item) => item.trim()).filter(Boolean);
  const counts = items.map(Number);
  if (
    items.length === 0 || counts.some((n) => !Number.isInteger(n) || n < 1)
  ) {
    throw new UsageError(
      `--${flag} must list whole numbers of at least 1; got "${text}"`,
    );
  }
  return [...new Set(counts)];
}

/** `--cluster-nodes`: "single" and node counts, in the order given. */
function parseSetups(text: string): ClusterSetup[] {
  const items = text.split(",").map((item) => item.trim()).filter(Boolean);
  if (items.length === 0) throw new UsageError("--cluster-nodes is empty");
  const setups: ClusterSetup[] = [];
  for (const item of items) {
    const count = Number(item);
    if (item !== "single" && !(Number.isInteger(count) && count >= 1)) {
      throw new UsageError(
        `--cluster-nodes: "${item}" is neither single nor a node count`,
      );
    }
    const setup = item === "single" ? "single" : count;
    if (!setups.includes(setup)) setups.push(setup);
  }
  return setups;
}

/**
 * `--reader`, or `--e-reader`, its older name from when only e had native
 * readers; native unless given; both given must agree.
 */
function readerKind(
  reader: string | boolean | undefined,
  eReader: string | boolean | undefined,
): ReaderKind {
  if (reader !== undefined && eReader !== undefined && reader !== eReader) {
    throw new UsageError(
      `--reader ${reader} and --e-reader ${eReader} disagree (the same flag)`,
    );
  }
  const flag = reader !== undefined ? "--reader" : "--e-reader";
  const kind = String(reader ?? eReader ?? "native");
  if (kind !== "native" && kind !== "deno") {
    throw new UsageError(`${flag} must be native or deno; got "${kind}"`);
  }
  return kind;
}

/** Parses the command line; throws UsageError on any mistake. */
function parseOptions(args: string[]): RunOptions | "help" {
  const numeric = [
    "runs",
    "duration",
    "size",
    "window",
    "a-clients",
    "a-senders",
    "b-clients",
    "b-senders",
    "b-rate",
    "c-clients",
    "c-concurrency",
    "join-deadline",
    "e-clients",
    "e-senders",
    "e-rate",
    "cluster-clients",
    "cluster-senders",
    "cluster-rate",
    "d-clients",
    "d-senders",
    "d-rate",
    "d-size",
    "d-duration",
    "concurrency",
    "login-timeout",
    "setup-timeout",
    "settle",
    "drain",
    "sample",
  ] as const;
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        targets: { type: "string" },
        scenarios: { type: "string" },
        "tern-server": { type: "string" },
        "tern-db": { type: "string" },
        "tern-profile": { type: "string" },
        "cluster-nodes": { type: "string" },
        "cluster-rooms": { type: "string" },
        reader: { type: "string" },
        "e-reader": { type: "string" },
        "e-floor": { type: "string" },
        out: { type: "string" },
        markdown: { type: "boolean" },
        help: { type: "boolean", short: "h" },
        ...Object.fromEntries(
          numeric.map((name) => [name, { type: "string" as const }]),
        ),
      },
    }).values;
  } catch (error) {
    throw new UsageError(
      (error instanceof Error ? error.message : String(error)).split("\n")[0],
    );
  }
  if (values.help) return "help";
  const number = (
    flag: typeof numeric[number],
    fallback: number,
    { integer = true, min = 1 } = {},
  ): number => {
    const raw = values[flag];
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (
      String(raw).trim() === "" || !Number.isFinite(value) || value < min ||
      (integer && !Number.isInteger(value))
    ) {
      throw new UsageError(
        `--${flag} must be ${integer ? "a whole number" : "a number"} ` +
          `of at least ${min}; got "${raw}"`,
      );
    }
    return value;
  };
  const seconds = (flag: typeof numeric[number], fallback: number) =>
    number(flag, fallback, { integer: false, min: 0 });
  const ternDb = String(values["tern-db"] ?? "file");
  if (ternDb !== "file" && ternDb !== "memory") {
    throw new UsageError(`--tern-db must be file or memory; got "${ternDb}"`);
  }
  const reader = readerKind(values.reader, values["e-reader"]);
  const eFloor = String(values["e-floor"] ?? "on");
  if (eFloor !== "on" && eFloor !== "off") {
    throw new UsageError(`--e-floor must be on or off; got "${eFloor}"`);
  }
  const duration = number("duration", 10, { integer: false, min: 0.1 });
  const scenario: ScenarioOptions = {
    duration,
    payloadBytes: number("size", 64, { min: 24 }),
    concurrency: number("concurrency", 8),
    loginTimeoutMs: seconds("login-timeout", 30) * 1000,
    setupTimeoutMs: seconds("setup-timeout", 300) * 1000,
    drainMs: seconds("drain", 3) * 1000,
    settleMs: seconds("settle", 1) * 1000,
    sampleMs: Math.max(
      50,
      number("sample", 0.5, { integer: false, min: 0.05 }) * 1000,
    ),
    a: {
      clients: number("a-clients", 100, { min: 2 }),
      senders: number("a-senders", 10),
      window: number("window", 64),
    },
    b: {
      clients: number("b-clients", 1000, { min: 2 }),
      senders: number("b-senders", 10),
      rate: number("b-rate", 200, { integer: false, min: 0.1 }),
    },
    c: {
      clients: number("c-clients", 10000),
      // As many connects in flight as the independent load generator that
      // first showed the big-room problem used.
      concurrency: number("c-concurrency", 256),
      joinDeadlineMs: seconds("join-deadline", 60) * 1000,
    },
    e: {
      clients: number("e-clients", 10000, { min: 2 }),
      senders: number("e-senders", 10),
      rate: number("e-rate", 100, { integer: false, min: 0.1 }),
    },
    reader,
    cluster: {
      clients: number("cluster-clients", 200, { min: 2 }),
      senders: number("cluster-senders", 10),
      rate: number("cluster-rate", 50, { integer: false, min: 0.1 }),
      setups: parseSetups(String(values["cluster-nodes"] ?? "single,1,3")),
      rooms: parseCounts(
        "cluster-rooms",
        String(values["cluster-rooms"] ?? "1,10"),
      ),
    },
    d: {
      clients: number("d-clients", 50, { min: 3 }),
      senders: number("d-senders", 5),
      rate: number("d-rate", 2000, { integer: false, min: 0.1 }),
      payloadBytes: number("d-size", 400, { min: 24 }),
      duration: number("d-duration", duration, { integer: false, min: 0.1 }),
    },
  };
  for (const id of ["a", "b", "e"] as const) {
    if (scenario[id].senders >= scenario[id].clients) {
      throw new UsageError(
        `--${id}-senders must be below --${id}-clients (one client observes)`,
      );
    }
  }
  const mostRooms = Math.max(...scenario.cluster.rooms);
  if (scenario.cluster.senders < mostRooms) {
    throw new UsageError(
      `--cluster-senders must be at least ${mostRooms}: one per room`,
    );
  }
  if (scenario.cluster.clients < scenario.cluster.senders + mostRooms) {
    throw new UsageError(
      "--cluster-clients must leave at least one reader per room " +
        `(at least --cluster-senders + ${mostRooms})`,
    );
  }
  if (scenario.d.senders >= scenario.d.clients - 1) {
    throw new UsageError("--d-senders must be below --d-clients minus 1");
  }
  if (scenario.payloadBytes > 400 || scenario.d.payloadBytes > 400) {
    throw new UsageError(
      "--size and --d-size must be at most 400 (IRC lines end at 512 bytes)",
    );
  }
  return {
    targets: parseList(
      "targets",
      String(values.targets ?? TARGET_NAMES.join(",")),
      TARGET_NAMES,
    ),
    scenarios: parseList(
      "scenarios",
      String(values.scenarios ?? SCENARIO_IDS.join(",")),
      SCENARIO_IDS,
    ),
    runs: number("runs", 1),
    scenario,
    ternServer: String(values["tern-server"] ?? `${REPO_DIR}server.ts`),
    ternDb,
    ternProfile: values["tern-profile"] === undefined
      ? null
      : String(values["tern-profile"]),
    eFloor: eFloor === "on",
    out: String(values.out ?? `${BENCH_DIR}results/latest.json`),
    markdown: values.markdown === true,
  };
}

/** The first line `command --version` prints, for the results file. */
async function versionOf(command: string, args: string[]): Promise<string> {
  try {
    const output = await new Deno.Command(command, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(output.stdout) +
      new TextDecoder().decode(output.stderr);
    return text.split("\n").find((line) => line.trim() !== "")?.trim() ?? "";
  } catch {
    return "unknown";
  }
}

/** The checkout's commit, marked "+changes" when the tree is dirty. */
async function gitDescribe(): Promise<string> {
  const git = async (...args: string[]) => {
    const output = await new Deno.Command("git", {
      args: ["-C", REPO_DIR, ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    return output.success ? new TextDecoder().decode(output.stdout).trim() : "";
  };
  try {
    const commit = await git("rev-parse", "--short", "HEAD");
    const dirty =
      (await git("status", "--porcelain", "--untracked-files=no")) !== "";
    return commit === ""
      ? "unknown commit"
      : `${commit}${dirty ? "+changes" : ""}`;
  } catch {
    return "unknown commit";
  }
}

/** Medians over runs, metric by metric. */
function medians(runs: RunResult[]): Metrics {
  const keys = new Set(runs.flatMap((run) => Object.keys(run.metrics)));
  return Object.fromEntries(
    [...keys].map((
      key,
    ) => [key, median(runs.map((run) => run.metrics[key] ?? null))]),
  );
}

/**
 * The table of one scenario: a column per target, then ours/peer ratios;
 * machine rows show `machine`'s figure under every target and no ratio.
 */
function scenarioTable(
  rows: Row[],
  results: Partial<Record<TargetName, Metrics>>,
  targets: TargetName[],
  machine: Metrics = {},
): { header: string[]; cells: string[][] } {
  const present = targets.filter((name) => results[name] !== undefined);
  const peers = present.includes("tern")
    ? present.filter((name) => name !== "tern")
    : [];
  const header = [
    "figure",
    ...present,
    ...peers.map((peer) => `tern/${peer}`),
  ];
  const cells = rows.filter(([key, , kind]) =>
    kind !== "machine" || machine[key] !== undefined
  ).map(([key, label, kind]) =>
    kind === "machine"
      ? [
        label,
        ...present.map(() => formatNumber(machine[key])),
        ...peers.map(() => ""),
      ]
      : [
        label,
        ...present.map((name) => formatNumber(results[name]?.[key])),
        ...peers.map((peer) =>
          formatNumber(ratio(results.tern?.[key], results[peer]?.[key]))
        ),
      ]
  );
  return { header, cells };
}

/**
 * Lines under a table for what its figures hide: lost deliveries (latency
 * covers only messages that arrived), disconnects, caps, garbled messages.
 */
function tableNotes(
  targets: Target[],
  runs: Partial<Record<TargetName, RunResult[]>>,
  summary: Partial<Record<TargetName, Metrics>>,
): string[] {
  const notes: string[] = [];
  for (const target of targets) {
    const name = target.name;
    const m = summary[name];
    if (m === undefined) continue;
    for (const key of ["deliveryRatio", "deliveryRatioWith"]) {
      const value = m[key];
      if (typeof value === "number" && value < 0.999) {
        notes.push(
          `${name}: ${formatNumber(100 * (1 - value))}% of deliveries ` +
            `(${key}) never arrived; its latency figures cover only those ` +
            "that did",
        );
      }
    }
    if (typeof m.garbled === "number" && m.garbled > 0) {
      notes.push(
        `${name}: ${m.garbled} messages arrived cut in two (counted lost)`,
      );
    }
    const seen = new Set<string>();
    for (const result of runs[name] ?? []) {
      const details = result.details;
      const capped = details.capped;
      if (typeof capped === "string") seen.add(capped);
      for (const source of [details, details.without, details.withStalled]) {
        if (typeof source !== "object" || source === null) continue;
        const reasons = (source as Record<string, unknown>).disconnectReasons;
        if (typeof reasons !== "object" || reasons === null) continue;
        for (const [reason, count] of Object.entries(reasons)) {
          seen.add(
            `disconnected by the server or network: ${count} x "${reason}"`,
          );
        }
        const failures = (source as Record<string, unknown>).connectFailures;
        if (typeof failures !== "object" || failures === null) continue;
        for (const [reason, count] of Object.entries(failures)) {
          seen.add(`failed to connect/log in: ${count} x "${reason}"`);
        }
      }
    }
    for (const line of seen) notes.push(`${name}: ${line}`);
  }
  return notes;
}

/**
 * Scenario e's floor for a room of `clients`, said on stderr: measured, or
 * why not (the scenario runs either way).
 */
async function scenarioFloor(
  clients: number,
): Promise<WriteFloor | { missing: string }> {
  console.error(
    `bench: [e] floor: one C write to each of ${clients} sockets ...`,
  );
  const floor = await measureFloor(clients);
  console.error(
    "missing" in floor
      ? `bench: [e] floor not measured: ${floor.missing}`
      : `bench: [e] floor: a round of ${clients} writes ${
        formatNumber(floor.roundMs)
      } ms (median of ${floor.rounds})`,
  );
  return floor;
}

/** The floor's figures as the table's machine rows read them. */
function floorMetrics(floor: WriteFloor): Metrics {
  return {
    floorRoundMs: floor.roundMs,
    floorCpuUsPerWrite: floor.cpuUsPerWrite,
  };
}

/** The line under e's table that says what the floor rows are, or why absent. */
function floorNote(floor: WriteFloor | { missing: string }): string {
  if ("missing" in floor) return `floor: not measured (${floor.missing})`;
  return `floor: no server, one C process writing ${floor.bytes} B once ` +
    `to each of ${floor.clients} loopback sockets, one C epoll reader; ` +
    `median of ${floor.rounds} rounds, measured once before the targets`;
}

/** Runs the benchmark; returns the process exit code. */
async function main(args: string[]): Promise<number> {
  let options: RunOptions;
  try {
    const parsed = parseOptions(args);
    if (parsed === "help") {
      console.log(USAGE);
      return 0;
    }
    options = parsed;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`bench: ${error.message} (see --help)`);
    return 2;
  }

  const all: Record<TargetName, Target> = {
    tern: ternTarget(options.ternServer, options.ternDb, options.ternProfile),
    ncat: ncatTarget(),
    ngircd: ngircdTarget(`${BENCH_DIR}ngircd.conf`),
  };
  const targets: Target[] = [];
  const skipped: Record<string, string> = {};
  for (const name of options.targets) {
    const missing = all[name].missing();
    if (missing === null) targets.push(all[name]);
    else {
      skipped[name] = missing;
      console.error(`bench: skipping ${name}: ${missing}`);
    }
  }
  if (targets.length === 0) {
    console.error("bench: no target can run here");
    return 1;
  }

  // Each client is a descriptor here and one in the server (which inherits
  // this process's limit); scenario c can shrink to fit, the others cannot.
  const sizes: Record<ScenarioId, number> = {
    a: options.scenario.a.clients,
    b: options.scenario.b.clients,
    c: options.scenario.c.clients,
    c1: options.scenario.c.clients,
    d: options.scenario.d.clients,
    e: options.scenario.e.clients,
    cluster: options.scenario.cluster.clients,
    w: options.scenario.a.clients,
  };
  const needed = Math.max(...options.scenarios.map((id) => sizes[id])) + 256;
  const files = ensureOpenFiles(needed);
  if (files.message) console.error(`bench: ${files.message}`);
  if (!files.ok) {
    const fit = Math.max(1, files.soft - 256);
    const tooBig = options.scenarios.filter((id) =>
      id !== "c" && id !== "c1" && sizes[id] > fit
    );
    if (tooBig.length > 0) {
      console.error(
        `bench: scenario ${
          tooBig.join(", ")
        } needs more open files than allowed`,
      );
      return 1;
    }
    console.error(`bench: scenarios c, c1 will use ${fit} connections instead`);
    options.scenario.c.clients = fit;
  }

  const stopSignals = killServersOnSignal();
  const machine = machineInfo();
  const versions: Record<string, string> = {
    tern:
      `${await gitDescribe()} (${options.ternServer}, --tern-db ${options.ternDb})`,
  };
  if (targets.some((t) => t.name === "ncat")) {
    versions.ncat = await versionOf("ncat", ["--version"]);
  }
  if (targets.some((t) => t.name === "ngircd")) {
    versions.ngircd = await versionOf("ngircd", ["--version"]);
  }
  if (options.scenarios.includes("cluster") && redisMissing() === null) {
    versions.redis = await versionOf("redis-server", ["--version"]);
  }
  console.error(
    `bench: ${machine.nproc} CPUs (${machine.cpuModel}), Linux ${machine.kernel}, ` +
      `Deno ${machine.deno}; targets ${targets.map((t) => t.name).join(", ")}`,
  );

  const report: Record<string, unknown> = {};
  let failures = 0;
  try {
    for (const id of options.scenarios) {
      const scenario = SCENARIOS[id];
      const title = scenario.title(options.scenario);
      const runs: Partial<Record<TargetName, RunResult[]>> = {};
      const errors: Partial<Record<TargetName, string[]>> = {};
      // The cluster scenario compares tern with itself; w runs its own
      // setups (tern over WebSocket and TCP, Node's ws) from tern's target.
      const own = id === "cluster" || id === "w";
      const scenarioTargets = own
        ? targets.filter((target) => target.name === "tern")
        : targets;
      const cannot = !own
        ? null
        : scenarioTargets.length === 0
        ? "it runs tern only (--targets tern)"
        : id === "w"
        ? wsPeerMissing()
        : redisMissing();
      if (cannot !== null) {
        console.error(`bench: skipping scenario ${id}: ${cannot}`);
        report[id] = { title, skipped: cannot };
        continue;
      }
      // e's floor: measured once, before any server runs, so nothing else
      // shares the machine with it.
      const floor = id === "e" && options.eFloor
        ? await scenarioFloor(options.scenario.e.clients)
        : null;
      for (let run = 1; run <= options.runs; run++) {
        for (const target of scenarioTargets) {
          const started = performance.now();
          console.error(
            `bench: [${id}] run ${run}/${options.runs} ${target.name} ...`,
          );
          try {
            const result = await scenario.run(target, options.scenario);
            (runs[target.name] ??= []).push(result);
            console.error(
              `bench: [${id}] run ${run}/${options.runs} ${target.name} done in ${
                ((performance.now() - started) / 1000).toFixed(1)
              } s`,
            );
          } catch (error) {
            failures++;
            const message = error instanceof Error
              ? error.message
              : String(error);
            (errors[target.name] ??= []).push(message);
            console.error(
              `bench: [${id}] ${target.name} failed: ${message}`,
            );
          } finally {
            await stopAll();
          }
        }
      }
      const summary: Partial<Record<TargetName, Metrics>> = {};
      for (const target of scenarioTargets) {
        const list = runs[target.name];
        if (list && list.length > 0) summary[target.name] = medians(list);
      }
      const { header, cells } = id === "cluster"
        ? clusterTable(summary.tern, options.scenario.cluster)
        : id === "w"
        ? websocketTable(summary.tern, formatNumber)
        : scenarioTable(
          scenario.rows,
          summary,
          options.targets,
          floor === null || "missing" in floor ? {} : floorMetrics(floor),
        );
      const runsNote = options.runs > 1
        ? ` (median of ${options.runs} runs)`
        : "";
      console.log(`\n${title}${runsNote}\n`);
      console.log(textTable(header, cells));
      if (options.markdown) {
        console.log(`\n${markdownTable(header, cells)}`);
      }
      const notes = id === "cluster"
        ? clusterNotes(runs.tern ?? [], summary.tern, options.scenario.cluster)
        : tableNotes(targets, runs, summary);
      if (floor !== null) notes.unshift(floorNote(floor));
      for (const line of notes) {
        console.log(`  ${line}`);
      }
      report[id] = {
        title,
        medians: summary,
        runs,
        errors,
        ...(floor === null
          ? {}
          : { floor: "missing" in floor ? { skipped: floor.missing } : floor }),
      };
    }
  } finally {
    stopSignals();
    await stopAll();
  }

  const results = {
    benchmark: "tern bench/run.ts",
    command: `deno run -A bench/run.ts ${args.join(" ")}`.trim(),
    machine,
    versions,
    skipped,
    options: {
      runs: options.runs,
      targets: options.targets,
      scenarios: options.scenarios,
      ...options.scenario,
    },
    scenarios: report,
  };
  await Deno.mkdir(options.out.replace(/\/[^/]*$/, "") || ".", {
    recursive: true,
  });
  await Deno.writeTextFile(
    options.out,
    JSON.stringify(results, null, 2) + "\n",
  );
  console.error(`bench: results written to ${options.out}`);
  return failures === 0 ? 0 : 1;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
