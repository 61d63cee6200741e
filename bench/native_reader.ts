/**
 * The native reader (bench/native/reader.c): readers at the cost of a C
 * program, for the paced scenarios (b, d, e), where a Deno process pays ~31
 * µs of runtime per read and its own backlog becomes the measured latency.
 *
 * This module compiles the reader once per source version (cached under the
 * OS temporary directory, keyed by the source's hash), drives it over its
 * stdin and stdout, and parses what it reports. Its clock is tied to this
 * process's {@linkcode nowUs} by a calibration over the pipe: this side
 * notes its clock before and after asking for the reader's, takes the
 * exchange with the shortest round trip, and assumes the reader read its
 * clock halfway; the error is at most half that round trip (tens of µs).
 *
 * @module
 */

import { nowUs } from "./loadgen.ts";
import { buildC } from "./native_build.ts";
import type { LineRules, LoginPlan } from "./protocol.ts";
import { Histogram } from "./stats.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Which readers a scenario uses: C (one process, epoll) or Deno clients. */
export type ReaderKind = "native" | "deno";

/** Stands for a client's nick in a login plan sent to the reader. */
export const NICK_TOKEN = "@@NICK@@";

/** Everything the reader needs to connect and log in its clients. */
export interface NativePlan {
  host: string;
  port: number;
  /** Readers to connect. */
  clients: number;
  /** Reader i is named `nickPrefix` + (firstIndex + i). */
  firstIndex: number;
  nickPrefix: string;
  /** Connects and logins in flight at once. */
  concurrency: number;
  /** Time for all of them; clients not in by then fail. */
  joinDeadlineMs: number;
  /** Time for one client. */
  loginTimeoutMs: number;
  /** Sender numbers 0..senders-1 are checked for order. */
  senders: number;
  /** The login, with {@linkcode NICK_TOKEN} where the nick goes. */
  login: LoginPlan;
  rules: LineRules;
}

/** `text` as hex of its UTF-8 bytes; "-" when empty. */
export function hex(text: string): string {
  const bytes = encoder.encode(text);
  if (bytes.length === 0) return "-";
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The command lines that give the reader `plan` (without "start"). */
export function encodePlan(plan: NativePlan): string[] {
  const whole = (name: string, value: number) => {
    if (!Number.isInteger(value) || value < 0) {
      throw new Error(`native reader: ${name} must be a whole number`);
    }
    return String(value);
  };
  if (/\s/.test(plan.host) || plan.host === "") {
    throw new Error(`native reader: bad host "${plan.host}"`);
  }
  return [
    `target ${plan.host} ${whole("port", plan.port)}`,
    [
      "clients",
      whole("clients", plan.clients),
      whole("firstIndex", plan.firstIndex),
      whole("concurrency", Math.max(1, plan.concurrency)),
      whole("joinDeadlineMs", Math.round(plan.joinDeadlineMs)),
      whole("loginTimeoutMs", Math.round(plan.loginTimeoutMs)),
      whole("senders", plan.senders),
    ].join(" "),
    `nick ${hex(plan.nickPrefix)} ${hex(NICK_TOKEN)}`,
    `send ${hex(plan.login.send)}`,
    ...plan.login.expect.map((text) => `expect ${hex(text)}`),
    ...plan.rules.replies.map((rule) =>
      `reply ${hex(rule.prefix)} ${hex(rule.answer)}`
    ),
    ...plan.rules.closing.map((prefix) => `closing ${hex(prefix)}`),
  ];
}

/** The reader's latency histogram: sparse buckets of bench/stats.ts's kind. */
export interface NativeLatency {
  count: number;
  sum: number;
  max: number;
  min: number;
  buckets: Array<[number, number]>;
}

/** What the reader says once its clients are in (or the deadline passed). */
export interface NativeJoined {
  joined: number;
  failed: number;
  seconds: number;
  /** Failures by reason. */
  failures: Record<string, number>;
}

/** The reader's final figures, over all its readers. */
export interface NativeReport {
  /** Readers that logged in. */
  readers: number;
  /** Of those, still connected at the report. */
  live: number;
  deliveries: number;
  /** Deliveries that arrived by the window's end. */
  windowDeliveries: number;
  /** Messages the readers should have received, all together. */
  expected: number;
  /** Messages received, each reader's capped at its expected. */
  receivedCapped: number;
  /** The lowest received/expected of one reader; null if none expected. */
  minRatio: number | null;
  garbled: number;
  outOfOrder: number;
  noticeLinesTotal: number;
  noticeLinesMax: number;
  bytesRead: number;
  cpuUserS: number;
  cpuSystemS: number;
  maxRssKiB: number;
  /** Readers the server or network disconnected, by reason. */
  disconnectReasons: Record<string, number>;
  latency: NativeLatency;
}

function isCounts(value: unknown): value is Record<string, number> {
  return typeof value === "object" && value !== null &&
    Object.values(value).every((v) => typeof v === "number");
}

/** Parses the reader's "joined" line; throws when it is not one. */
export function parseJoined(line: string): NativeJoined {
  const value = JSON.parse(line);
  if (
    value?.type !== "joined" || typeof value.joined !== "number" ||
    typeof value.failed !== "number" || typeof value.seconds !== "number" ||
    !isCounts(value.failures)
  ) {
    throw new Error(`native reader: not a joined line: ${line.slice(0, 200)}`);
  }
  return {
    joined: value.joined,
    failed: value.failed,
    seconds: value.seconds,
    failures: value.failures,
  };
}

const REPORT_NUMBERS = [
  "readers",
  "live",
  "deliveries",
  "windowDeliveries",
  "expected",
  "receivedCapped",
  "garbled",
  "outOfOrder",
  "noticeLinesTotal",
  "noticeLinesMax",
  "bytesRead",
  "cpuUserS",
  "cpuSystemS",
  "maxRssKiB",
] as const;

/** Parses the reader's "report" line; throws when it is not one. */
export function parseReport(line: string): NativeReport {
  const value = JSON.parse(line);
  const bad = (why: string) =>
    new Error(`native reader: bad report (${why}): ${line.slice(0, 200)}`);
  if (value?.type !== "report") throw bad("type");
  for (const key of REPORT_NUMBERS) {
    if (typeof value[key] !== "number") throw bad(key);
  }
  if (value.minRatio !== null && typeof value.minRatio !== "number") {
    throw bad("minRatio");
  }
  if (!isCounts(value.disconnectReasons)) throw bad("disconnectReasons");
  const latency = value.latency;
  if (
    typeof latency !== "object" || latency === null ||
    !["count", "sum", "max", "min"].every((k) =>
      typeof latency[k] === "number"
    ) || !Array.isArray(latency.buckets) ||
    !latency.buckets.every((pair: unknown) =>
      Array.isArray(pair) && pair.length === 2 &&
      pair.every((n) => typeof n === "number")
    )
  ) {
    throw bad("latency");
  }
  const report = { ...value };
  delete report.type;
  return report as NativeReport;
}

/** The reader's latencies as a histogram, to merge with the senders'. */
export function latencyHistogram(latency: NativeLatency): Histogram {
  const histogram = new Histogram();
  histogram.addBuckets(latency.buckets, latency);
  return histogram;
}

/** How the two clocks were tied together. */
export interface Calibration {
  /** Add to the reader's CLOCK_MONOTONIC (µs) for this process's nowUs. */
  offsetUs: number;
  /** At most this far off: half the shortest round trip. */
  errorBoundUs: number;
  rounds: number;
}

const SOURCE = new URL("./native/reader.c", import.meta.url);

let built: Promise<{ path: string } | { missing: string }> | null = null;

/**
 * The compiled reader, built once per version of its source with `cc` or
 * `gcc` -O2; `missing` says why there is none (no compiler, or it failed).
 */
export function nativeReaderBinary(): Promise<
  { path: string } | { missing: string }
> {
  built ??= buildC(SOURCE, "reader");
  return built;
}

/** One running reader process. */
export class NativeReader {
  readonly pid: number;
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  /** Lines received and not yet taken, oldest first. */
  #lines: string[] = [];
  #waiter: (() => void) | null = null;
  #ended = false;
  #stderr = "";
  readonly #reading: Promise<void>;

  /**
   * Starts the reader at `path`; it exits by itself after `hardSeconds`,
   * or when this process closes its stdin (or dies).
   */
  constructor(path: string, hardSeconds: number) {
    this.#child = new Deno.Command(path, {
      args: [String(Math.ceil(hardSeconds))],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.pid = this.#child.pid;
    this.#writer = this.#child.stdin.getWriter();
    this.#reading = Promise.all([
      this.#readLines(this.#child.stdout),
      this.#readErrors(this.#child.stderr),
    ]).then(() => {});
  }

  async #readLines(stream: ReadableStream<Uint8Array>): Promise<void> {
    let pending = "";
    try {
      for await (const chunk of stream) {
        const parts = (pending + decoder.decode(chunk, { stream: true }))
          .split("\n");
        pending = parts.pop() ?? "";
        this.#lines.push(...parts.filter((line) => line !== ""));
        this.#wake();
      }
    } catch {
      // The pipe broke: the process died; its exit says how.
    } finally {
      this.#ended = true;
      this.#wake();
    }
  }

  async #readErrors(stream: ReadableStream<Uint8Array>): Promise<void> {
    try {
      for await (const chunk of stream) {
        this.#stderr = (this.#stderr + decoder.decode(chunk)).slice(-4096);
      }
    } catch {
      // As above.
    }
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = null;
    waiter?.();
  }

  /** Sends command lines. */
  async send(...lines: string[]): Promise<void> {
    await this.#writer.write(encoder.encode(lines.join("\n") + "\n"));
  }

  /**
   * The next line that starts with `prefix` (earlier other lines are
   * dropped); rejects after `timeoutMs` or if the reader exits first.
   */
  async #take(prefix: string, timeoutMs: number): Promise<string> {
    const until = performance.now() + timeoutMs;
    while (true) {
      while (this.#lines.length > 0) {
        const line = this.#lines.shift()!;
        if (line.startsWith(prefix)) return line;
      }
      if (this.#ended) {
        throw new Error(
          `native reader exited before answering ${prefix}: ${this.#stderr}`,
        );
      }
      const left = until - performance.now();
      if (left <= 0) {
        throw new Error(`native reader did not answer ${prefix} in time`);
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiter = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  /**
   * Ties the reader's clock to {@linkcode nowUs}: `rounds` exchanges, the
   * one with the shortest round trip kept; tells the reader the offset.
   */
  async calibrate(rounds = 50): Promise<Calibration> {
    let best = { rtt: Infinity, offset: 0 };
    for (let i = 0; i < rounds; i++) {
      const before = nowUs();
      await this.send("clock");
      const line = await this.#take("clock ", 5000);
      const after = nowUs();
      const theirs = Number(line.slice("clock ".length));
      if (after - before < best.rtt) {
        best = { rtt: after - before, offset: (before + after) / 2 - theirs };
      }
    }
    await this.send(`offset ${best.offset.toFixed(3)}`);
    return { offsetUs: best.offset, errorBoundUs: best.rtt / 2, rounds };
  }

  /** Gives the plan, starts connecting, and waits until all are in or failed. */
  async join(plan: NativePlan, timeoutMs: number): Promise<NativeJoined> {
    await this.send(...encodePlan(plan), "start");
    return parseJoined(await this.#take('{"type":"joined"', timeoutMs));
  }

  /** Deliveries arriving after `us` (this process's clock) are drain. */
  windowEnd(us: number): Promise<void> {
    return this.send(`window-end ${us.toFixed(0)}`);
  }

  /** Messages sent so far: what a reader closed now should have had. */
  sent(count: number): Promise<void> {
    return this.send(`sent ${count}`);
  }

  /** Live readers with fewer than `sent` messages. */
  async behind(sent: number): Promise<number> {
    return (await this.status(sent)).behind;
  }

  /** Live readers with fewer than `sent` messages, and live readers. */
  async status(sent: number): Promise<{ behind: number; live: number }> {
    await this.send(`behind ${sent}`);
    const line = await this.#take('{"type":"behind"', 10_000);
    const { behind, live } = JSON.parse(line);
    if (typeof behind !== "number" || typeof live !== "number") {
      throw new Error(`native reader: bad answer: ${line}`);
    }
    return { behind, live };
  }

  /** The final figures, `sent` messages having been sent; the reader exits. */
  async report(sent: number): Promise<NativeReport> {
    await this.send(`report ${sent}`);
    return parseReport(await this.#take('{"type":"report"', 30_000));
  }

  /** Closes its stdin (it exits), and kills it if it has not within 5 s. */
  async close(): Promise<void> {
    await this.#writer.close().catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), 5000);
    });
    const outcome = await Promise.race([this.#child.status, late]);
    clearTimeout(timer);
    if (outcome === "late") {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }
    await this.#child.status;
    await this.#reading;
  }
}
