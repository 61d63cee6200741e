/**
 * The native reader of the paced scenarios (bench/native/reader.c) and its
 * driver: the plan and report formats, the histogram it hands over, the
 * login, PING and closing rules against a scripted IRC-like server, its exit
 * when its driver goes, and scenarios b, d and e run small against tern
 * through the benchmark's command line with every delivery counted (and e's
 * write floor measured, or not when asked).
 */

import assert from "node:assert/strict";
import {
  encodePlan,
  hex,
  latencyHistogram,
  NativeReader,
  nativeReaderBinary,
  NICK_TOKEN,
  parseJoined,
  parseReport,
} from "../bench/native_reader.ts";
import { nowUs } from "../bench/loadgen.ts";
import { payload } from "../bench/protocol.ts";
import { Histogram } from "../bench/stats.ts";
import { ngircdTarget, ternTarget } from "../bench/targets.ts";
import { within } from "./helpers.ts";

const REPO = new URL("..", import.meta.url).pathname;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The compiled reader; the test fails if it cannot be built here. */
async function readerPath(): Promise<string> {
  const built = await nativeReaderBinary();
  if ("missing" in built) assert.fail(`native reader: ${built.missing}`);
  return built.path;
}

Deno.test("bench native: a plan is command lines with every string in hex", () => {
  const lines = encodePlan({
    host: "127.0.0.1",
    port: 6667,
    clients: 30,
    firstIndex: 2,
    nickPrefix: "c",
    concurrency: 256,
    joinDeadlineMs: 60000,
    loginTimeoutMs: 30000,
    senders: 2,
    login: { send: `${NICK_TOKEN}\n`, expect: [`*** Welcome, ${NICK_TOKEN}!`] },
    rules: { replies: [{ prefix: "PING", answer: "PONG" }], closing: [] },
  });
  assert.deepEqual(lines, [
    "target 127.0.0.1 6667",
    "clients 30 2 256 60000 30000 2",
    `nick 63 ${hex(NICK_TOKEN)}`,
    `send ${hex(NICK_TOKEN)}0a`,
    `expect ${hex(`*** Welcome, ${NICK_TOKEN}!`)}`,
    "reply 50494e47 504f4e47",
  ]);
  assert.equal(hex(""), "-");
  assert.equal(hex("é"), "c3a9");
  assert.throws(() => encodePlan({ ...planOf(1), port: 1.5 }), /port/);
});

/** A small plan for the scripted server below. */
function planOf(clients: number, port = 1) {
  return {
    host: "127.0.0.1",
    port,
    clients,
    firstIndex: 0,
    nickPrefix: "c",
    concurrency: 2,
    joinDeadlineMs: 10_000,
    loginTimeoutMs: 10_000,
    senders: 1,
    login: {
      send: `NICK ${NICK_TOKEN}\r\n`,
      expect: [` 001 ${NICK_TOKEN} `, ` 366 ${NICK_TOKEN} `],
    },
    rules: {
      replies: [{ prefix: "PING", answer: "PONG" }],
      closing: ["ERROR"],
    },
  };
}

Deno.test("bench native: the rules say what each target's control() does", () => {
  const ngircd = ngircdTarget("unused").protocol;
  const ping = encoder.encode("PING :irc.example");
  assert.deepEqual(ngircd.control(ping), { reply: "PONG :irc.example\r\n" });
  assert.deepEqual(ngircd.lineRules?.replies, [
    { prefix: "PING", answer: "PONG" },
  ]);
  for (const protocol of [ngircd, ternTarget("unused", "memory").protocol]) {
    for (const prefix of protocol.lineRules!.closing) {
      const line = encoder.encode(`${prefix} closing`);
      assert.equal(protocol.control(line)?.closing, `${prefix} closing`);
    }
  }
  assert.equal(
    ternTarget("unused", "memory").protocol.lineRules?.closing[0],
    "*** Disconnected",
  );
});

Deno.test("bench native: reports parse, and their histogram is the same histogram", () => {
  const histogram = new Histogram();
  for (let v = 1; v <= 5000; v += 7) histogram.record(v * 13);
  const latency = {
    count: histogram.count,
    sum: histogram.mean * histogram.count,
    max: histogram.max,
    min: 13,
    buckets: histogram.buckets(),
  };
  const line = JSON.stringify({
    type: "report",
    readers: 3,
    live: 2,
    deliveries: 10,
    windowDeliveries: 9,
    expected: 9,
    receivedCapped: 9,
    minRatio: 1,
    garbled: 0,
    outOfOrder: 0,
    noticeLinesTotal: 12,
    noticeLinesMax: 5,
    bytesRead: 999,
    cpuUserS: 0.01,
    cpuSystemS: 0.02,
    maxRssKiB: 1200,
    disconnectReasons: { "ERROR :bye": 1 },
    latency,
  });
  const report = parseReport(line);
  assert.equal(report.readers, 3);
  assert.deepEqual(report.disconnectReasons, { "ERROR :bye": 1 });
  const copy = latencyHistogram(report.latency);
  for (const q of [0.5, 0.9, 0.99]) {
    assert.equal(copy.quantile(q), histogram.quantile(q));
  }
  assert.equal(copy.max, histogram.max);
  assert.equal(copy.count, histogram.count);
  assert.throws(
    () => parseReport(line.replace('"deliveries":10', '"deliveries":"10"')),
    /deliveries/,
  );
  assert.throws(() => parseReport('{"type":"behind"}'), /type/);
  assert.throws(
    () => latencyHistogram({ ...latency, buckets: [[99999, 1]] }),
    RangeError,
  );
  assert.deepEqual(
    parseJoined(
      '{"type":"joined","joined":2,"failed":1,"seconds":0.5,' +
        '"failures":{"connect: Connection refused":1}}',
    ),
    {
      joined: 2,
      failed: 1,
      seconds: 0.5,
      failures: { "connect: Connection refused": 1 },
    },
  );
});

/** Reads from `conn` until the bytes read contain `text`; returns them. */
async function readUntil(conn: Deno.Conn, text: string): Promise<string> {
  const buffer = new Uint8Array(4096);
  let seen = "";
  while (!seen.includes(text)) {
    const count = await conn.read(buffer);
    if (count === null) throw new Error(`closed before "${text}": ${seen}`);
    seen += decoder.decode(buffer.subarray(0, count));
  }
  return seen;
}

Deno.test("bench native: logs in past a PING, counts messages, order, cut ones, notices and the server's ERROR", async () => {
  const path = await readerPath();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const conns: Deno.Conn[] = [];
  const nicks: string[] = [];
  // The scripted server: 001, then a PING that must be answered before the
  // 366 that ends the login.
  const serving = (async () => {
    for (let i = 0; i < 3; i++) {
      const conn = await listener.accept();
      conns.push(conn);
      const hello = await readUntil(conn, "\r\n");
      const nick = hello.match(/NICK (\S+)/)![1]!;
      nicks.push(nick);
      await conn.write(
        encoder.encode(`:srv 001 ${nick} :hi\r\nPING :t${i}\r\n`),
      );
      await readUntil(conn, `PONG :t${i}\r\n`);
      await conn.write(encoder.encode(`:srv 366 ${nick} #bench :End\r\n`));
    }
  })();
  const reader = new NativeReader(path, 60);
  try {
    await reader.calibrate(10);
    const joined = await within(
      reader.join(planOf(3, port), 15_000),
      "the three logins",
      15_000,
    );
    await within(serving, "the scripted server");
    assert.deepEqual(joined.failures, {});
    assert.equal(joined.joined, 3);
    assert.deepEqual(nicks.toSorted(), ["c0", "c1", "c2"]);
    await reader.sent(3);
    const line = (seq: number) =>
      `:s PRIVMSG #bench :${payload(0, seq, nowUs(), 40)}\r\n`;
    for (const [i, conn] of conns.entries()) {
      let text = ":s NOTICE #bench :hello\r\n" + line(1) + line(2) +
        ":s PRIVMSG #bench :^b0,9\r\n" + line(3);
      // The first client also gets a duplicate, then the server's goodbye.
      if (i === 0) text += line(2) + "ERROR :Closing link\r\n";
      // Split inside a line: the reader must carry it to the next read.
      const bytes = encoder.encode(text);
      await conn.write(bytes.subarray(0, 50));
      await conn.write(bytes.subarray(50));
      if (i === 0) conn.close();
    }
    await within(
      (async () => {
        while (true) {
          const status = await reader.status(3);
          if (status.behind === 0 && status.live === 2) return;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      })(),
      "every message read and the goodbye seen",
    );
    const report = await reader.report(3);
    assert.equal(report.readers, 3);
    assert.equal(report.live, 2);
    assert.equal(report.deliveries, 10);
    assert.equal(report.windowDeliveries, 10, "no window end given");
    assert.equal(report.expected, 9);
    assert.equal(report.receivedCapped, 9);
    assert.equal(report.minRatio, 1);
    assert.equal(report.outOfOrder, 1);
    assert.equal(report.garbled, 3);
    // 001, PING, 366 and the notice each; the ERROR line too for one.
    assert.equal(report.noticeLinesTotal, 13);
    assert.equal(report.noticeLinesMax, 5);
    assert.deepEqual(report.disconnectReasons, { "ERROR :Closing link": 1 });
    assert.equal(report.latency.count, 10);
    assert.ok(report.latency.max < 5_000_000, `max ${report.latency.max} µs`);
  } finally {
    await reader.close();
    for (const conn of conns.slice(1)) conn.close();
    listener.close();
  }
});

Deno.test("bench native: the reader exits when its driver's pipe closes, and by its hard deadline", async () => {
  const path = await readerPath();
  const child = new Deno.Command(path, {
    args: ["1"],
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const started = performance.now();
  // stdin stays open: only the one-second deadline can end it.
  const stderr = await within(
    new Response(child.stderr).text(),
    "the hard deadline",
    10_000,
  );
  const status = await child.status;
  const elapsed = performance.now() - started;
  await child.stdin.close();
  assert.ok(elapsed >= 900, `exited after ${elapsed} ms`);
  assert.match(stderr, /hard deadline/);
  assert.equal(status.code, 0);

  const reader = new NativeReader(path, 600);
  const calibration = await reader.calibrate(5);
  assert.ok(calibration.errorBoundUs < 1000, JSON.stringify(calibration));
  const closing = performance.now();
  await reader.close();
  assert.ok(performance.now() - closing < 4000, "exited on stdin's end");
});

/** A results file as parsed: its shape is bench/run.ts's to keep. */
// deno-lint-ignore no-explicit-any
type Json = any;

/**
 * Runs bench/run.ts with `args` against tern (history in memory, no settle
 * pause), the reader compiled into a directory of its own; returns its
 * stdout and the results file.
 */
async function benchRun(
  args: string[],
): Promise<{ text: string; results: Json }> {
  const out = await Deno.makeTempDir({ prefix: "tern-native-bench-" });
  try {
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        `${REPO}bench/run.ts`,
        "--targets",
        "tern",
        "--settle",
        "0",
        "--drain",
        "10",
        "--tern-db",
        "memory",
        "--out",
        `${out}/results.json`,
        ...args,
      ],
      env: { TMPDIR: out },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = decoder.decode(output.stdout);
    const errors = decoder.decode(output.stderr);
    assert.equal(output.code, 0, `${text}\n${errors}`);
    const results = JSON.parse(await Deno.readTextFile(`${out}/results.json`));
    return { text, results };
  } finally {
    await Deno.remove(out, { recursive: true });
  }
}

/** One run's figures in which every message reached every reader, in order. */
function assertAllDelivered(
  m: Json,
  readers: number,
  minSent: number,
): void {
  assert.ok(m.sent >= minSent, `sent ${m.sent}`);
  assert.equal(m.deliveries, m.sent * readers);
  assert.equal(m.deliveryRatio, 1);
  assert.equal(m.minReaderRatio, 1);
  assert.equal(m.outOfOrder, 0);
  assert.equal(m.garbled, 0);
  assert.equal(m.disconnected, 0);
  assert.ok(m.p50Ms > 0 && m.p99Ms < 5000, `p50 ${m.p50Ms} p99 ${m.p99Ms}`);
  assert.ok(m.maxMs >= m.p99Ms);
  assert.ok(m.readerCpuPct >= 0 && m.loadgenCpuPct >= m.readerCpuPct);
}

Deno.test("bench native: scenario e, small, against tern: every delivery counted, in order", async () => {
  const { text, results } = await benchRun([
    "--scenarios",
    "e",
    // The flag's older name still works.
    "--e-reader",
    "native",
    "--e-clients",
    "30",
    "--e-senders",
    "2",
    "--e-rate",
    "20",
    "--duration",
    "1.5",
  ]);
  assert.match(text, /of which the native reader/);
  const e = results.scenarios.e;
  assert.deepEqual(e.errors, {});
  const { metrics: m, details } = e.runs.tern[0];
  assert.equal(details.readers, "native");
  assert.equal(details.nativeReader.readers, 28);
  assert.equal(m.clients, 30);
  assert.equal(m.failed, 0);
  // Every message reaches everyone but its sender.
  assertAllDelivered(m, 29, 20);
  assert.ok(details.nativeReader.clock.errorBoundUs < 1000);
  // The machine's floor, measured once for the 30 clients, beside the
  // latencies.
  const floor = e.floor;
  assert.equal(floor.clients, 30);
  assert.equal(floor.bytes, 200);
  assert.equal(floor.roundsMs.length, 5);
  assert.ok(floor.roundMs > 0 && floor.roundMs < 5000, `${floor.roundMs}`);
  assert.ok(floor.cpuUsPerWrite >= 0, `${floor.cpuUsPerWrite}`);
  assert.match(
    text,
    /latency max \(ms\).*\nfloor: one C write to each reader, round \(ms\) +[\d.]+\n/,
  );
  assert.match(text, /floor: C writer CPU per write \(µs\) +[\d.]+\n/);
});

Deno.test("bench native: scenario e with --e-floor off measures no floor", async () => {
  const { text, results } = await benchRun([
    "--scenarios",
    "e",
    "--e-floor",
    "off",
    "--e-clients",
    "4",
    "--e-senders",
    "1",
    "--e-rate",
    "20",
    "--duration",
    "0.5",
  ]);
  const e = results.scenarios.e;
  assert.deepEqual(e.errors, {});
  assert.equal(e.runs.tern[0].metrics.clients, 4);
  assert.ok(!("floor" in e), JSON.stringify(Object.keys(e)));
  assert.doesNotMatch(text, /floor/);
});

Deno.test("bench native: scenarios b and d, small, against tern: native readers, every delivery counted, the stalled client kept apart", async () => {
  const { text, results } = await benchRun([
    "--scenarios",
    "b,d",
    "--reader",
    "native",
    "--b-clients",
    "30",
    "--b-senders",
    "2",
    "--b-rate",
    "20",
    "--duration",
    "1.5",
    "--d-clients",
    "12",
    "--d-senders",
    "2",
    "--d-rate",
    "40",
  ]);
  assert.match(text, /of which the native reader/);
  const b = results.scenarios.b;
  assert.deepEqual(b.errors, {});
  const { metrics: mb, details: db } = b.runs.tern[0];
  assert.equal(db.readers, "native");
  assert.equal(db.nativeReader.readers, 28);
  assert.equal(mb.clients, 30);
  assertAllDelivered(mb, 29, 20);

  const d = results.scenarios.d;
  assert.deepEqual(d.errors, {});
  const { metrics: md, details: dd } = d.runs.tern[0];
  assert.equal(dd.readers, "native");
  assert.equal(md.clients, 12, "the stalled client is counted in");
  assert.equal(md.outOfOrder, 0);
  assert.equal(md.deliveryRatioWithout, 1);
  assert.equal(md.deliveryRatioWith, 1);
  assert.equal(md.othersDisconnected, 0);
  // The 9 readers that do not send are native, with and without it; the
  // stalled client is a Deno client that never reads, so it adds no
  // deliveries and is expected to have none.
  for (const run of [dd.without, dd.withStalled]) {
    assert.equal(run.readers, "native");
    assert.equal(run.nativeReader.readers, 9);
    assertAllDelivered(run.metrics, 10, 40);
  }
  assert.equal(dd.without.stalledClient, null);
  // 1.5 s at 40 small messages a second stays in the kernel's buffers: the
  // stalled client is connected at the end and not cut off.
  assert.equal(
    dd.withStalled.stalledClient.serverSideTcpStateAtEnd,
    "ESTABLISHED",
  );
  assert.equal(md.stalledCutS, null);
});

Deno.test("bench native: --reader and --e-reader must agree and say native or deno; --e-floor says on or off", async () => {
  for (
    const [args, message] of [
      [["--reader", "native", "--e-reader", "deno"], /disagree/],
      [["--reader", "c"], /--reader must be native or deno/],
      [["--e-floor", "maybe"], /--e-floor must be on or off/],
    ] as const
  ) {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${REPO}bench/run.ts`, ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(output.code, 2);
    assert.match(decoder.decode(output.stderr), message);
  }
});
