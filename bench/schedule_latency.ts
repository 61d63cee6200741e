/**
 * How long a big room's messages wait in the server's own scheduling, with
 * the kernel and the readers taken out:
 *
 *   deno task bench-schedule [--members 1000] [--write-us 15] [--every-ms 5]
 *                            [--per-tick 1] [--seconds 5] [--probes 50]
 *                            [--writes sync|async]
 *
 * One big room of `--members` sessions, driven by the server's own parts (the
 * room's log, the send queues, the write gate, write coalescing and its load
 * sampler; server/room_batch.ts, net/), whose sockets spend `--write-us` of
 * CPU on each write, as a loopback write costs the kernel here (`deno task
 * bench-write-cost`). With `--writes sync` (the default, what the server
 * does for plain TCP on Linux) a write is made at once, 32 a turn
 * (server/net/libc_socket.ts, sync_write_budget.ts); with `--writes async`
 * it settles on the next turn of the event loop, as Deno's `conn.write`
 * does, through the write gate. A timer
 * adds `--per-tick` messages every `--every-ms`; every message is stamped,
 * and `--probes` of the members (spread over the room) note, for every message
 * a write carries, how long it waited since it was added. It prints the
 * writes a second, that wait's p50 / p90 / p99 / max, and the deliveries per
 * CPU-second.
 *
 * What it is for: comparing two ways of scheduling the same room (run it at
 * two commits), without the noise of sockets, readers and a load generator
 * sharing two cores. A change that shortens the wait here may still not
 * show in `deno task bench` when the server is out of CPU (BENCHMARKS.md).
 *
 * @module
 */

import process from "node:process";
import { parseArgs } from "node:util";
import { stubRoom } from "./stub_room.ts";
import { bigRoomSpacingMs } from "../server/hub.ts";
import { WriteGate } from "../server/net/write_gate.ts";
import { SyncWriteBudget } from "../server/net/sync_write_budget.ts";
import { DEFAULT_LIMITS } from "../server/limits.ts";
import { FlushScheduler, sampleLoad } from "../server/net/coalescing.ts";
import { EncodedEvent } from "../protocol.ts";

/** What one run simulates. */
export interface ScheduleOptions {
  /** Members of the room. */
  members: number;
  /** CPU each socket write costs, in microseconds (busy-waited). */
  writeUs: number;
  /** Milliseconds between two ticks of the sender's timer. */
  everyMs: number;
  /** Messages added at each tick. */
  perTick: number;
  /** Length of the run, in seconds; the first second is not measured. */
  seconds: number;
  /** Members whose writes are decoded to measure the wait. */
  probes: number;
  /**
   * Writes made at once, a budget a turn, or settled on the next turn.
   * @default {"sync"}
   */
  writes?: "sync" | "async";
}

/** What one run measured. */
export interface ScheduleResult {
  writesPerSecond: number;
  /** Messages added a second (the timer runs late when the CPU is short). */
  messagesPerSecond: number;
  /** The wait from a message's add to the write carrying it, in ms. */
  waitMs: { p50: number; p90: number; p99: number; max: number };
  /** Waits measured (messages times probes, after the first second). */
  samples: number;
  /** Messages added after the first second, and the members probed. */
  measuredMessages: number;
  probes: number;
  /** Messages times members, per CPU-second of this process. */
  deliveriesPerCpuSecond: number;
  /** CPU used, in cores (1 is one core, busy throughout). */
  cpu: number;
}

/** Write coalescing's longest hold, as the server's default. */
const MAX_HOLD_MS = DEFAULT_LIMITS.writeCoalesceMs;

/** Writes made at once a turn, as the server's default (--sync-writes). */
const SYNC_WRITES_PER_TURN = DEFAULT_LIMITS.syncWritesPerTurn;

/** Measurement starts after this much of the run (the hold settles). */
const WARM_UP_MS = 1000;

const STAMP = /@(\d+(?:\.\d+)?)@/g;

/** The value at quantile `q` of sorted `values` (0 when empty). */
function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  return values[Math.floor(q * (values.length - 1))]!;
}

/**
 * Sockets that settle on the next turn of the event loop, as a loopback
 * write that the kernel takes at once does: one message on a channel
 * settles every write started in between.
 */
class NextTurn {
  readonly #channel = new MessageChannel();
  #waiting: Array<() => void> = [];
  #posted = false;

  constructor() {
    this.#channel.port1.onmessage = () => {
      this.#posted = false;
      const waiting = this.#waiting;
      this.#waiting = [];
      for (const settle of waiting) settle();
    };
  }

  settle(action: () => void): void {
    this.#waiting.push(action);
    if (this.#posted) return;
    this.#posted = true;
    this.#channel.port2.postMessage(0);
  }

  close(): void {
    this.#channel.port1.close();
    this.#channel.port2.close();
  }
}

/** Runs one simulated room; see the module's comment. */
export async function scheduleLatency(
  options: ScheduleOptions,
): Promise<ScheduleResult> {
  const { members, writeUs, everyMs, perTick, seconds } = options;
  const probeEvery = Math.max(1, Math.floor(members / options.probes));
  const waits: number[] = [];
  const decoder = new TextDecoder();
  const nextTurn = new NextTurn();
  let writes = 0;
  let measuring = false;
  const write = (probe: boolean, bytes: Uint8Array) => {
    writes++;
    const started = performance.now();
    while ((performance.now() - started) * 1000 < writeUs) {
      // The kernel's share of a loopback write.
    }
    if (measuring && probe) {
      const now = performance.now();
      for (const match of decoder.decode(bytes).matchAll(STAMP)) {
        waits.push(now - Number(match[1]));
      }
    }
  };
  const sync = (options.writes ?? "sync") === "sync";
  const socketFor = (probe: boolean) => ({
    write(bytes: Uint8Array): Promise<number> {
      write(probe, bytes);
      return new Promise<number>((resolve) =>
        nextTurn.settle(() => resolve(bytes.length))
      );
    },
    ...(sync
      ? {
        tryWrite(bytes: Uint8Array): number {
          write(probe, bytes);
          return bytes.length;
        },
      }
      : {}),
    close() {},
  });
  const gate = new WriteGate({ maxInFlight: 32 });
  const scheduler = new FlushScheduler();
  const stopSampling = sampleLoad(scheduler, MAX_HOLD_MS);
  const { room, batch, close } = stubRoom({
    members,
    socketFor: (index) => socketFor(index % probeEvery === 0),
    scheduler,
    gate,
    ...(sync ? { budget: new SyncWriteBudget(SYNC_WRITES_PER_TURN) } : {}),
    spacingMs: () => bigRoomSpacingMs(members, scheduler.delayMs),
  });
  let added = 0;
  let addedMeasured = 0;
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const timer = setInterval(() => {
    const now = performance.now();
    if (now - started >= WARM_UP_MS) measuring = true;
    for (let k = 0; k < perTick; k++) {
      added++;
      if (measuring) addedMeasured++;
      batch.add(
        new EncodedEvent({
          type: "message",
          id: added,
          ts: Date.now(),
          room: room.name,
          from: "sender",
          text: `@${now.toFixed(3)}@${"x".repeat(60)}`,
        }),
        batch.accept(),
        null,
      );
    }
  }, everyMs);
  try {
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  } finally {
    clearInterval(timer);
    stopSampling();
  }
  const elapsedS = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  close();
  nextTurn.close();
  waits.sort((a, b) => a - b);
  return {
    writesPerSecond: writes / elapsedS,
    messagesPerSecond: added / elapsedS,
    waitMs: {
      p50: quantile(waits, 0.5),
      p90: quantile(waits, 0.9),
      p99: quantile(waits, 0.99),
      max: quantile(waits, 1),
    },
    samples: waits.length,
    measuredMessages: addedMeasured,
    probes: Math.ceil(members / probeEvery),
    deliveriesPerCpuSecond: cpuS === 0 ? 0 : (added * members) / cpuS,
    cpu: cpuS / elapsedS,
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      members: { type: "string", default: "1000" },
      "write-us": { type: "string", default: "15" },
      "every-ms": { type: "string", default: "5" },
      "per-tick": { type: "string", default: "1" },
      seconds: { type: "string", default: "5" },
      probes: { type: "string", default: "50" },
      writes: { type: "string", default: "sync" },
    },
  });
  if (values.writes !== "sync" && values.writes !== "async") {
    console.error(`--writes: sync or async, please (got ${values.writes})`);
    Deno.exit(2);
  }
  const writes = values.writes;
  const options: ScheduleOptions = {
    members: Number(values.members),
    writeUs: Number(values["write-us"]),
    everyMs: Number(values["every-ms"]),
    perTick: Number(values["per-tick"]),
    seconds: Number(values.seconds),
    probes: Number(values.probes),
    writes,
  };
  for (const [name, value] of Object.entries(options)) {
    if (typeof value !== "number") continue;
    if (!Number.isFinite(value) || value <= 0) {
      console.error(`--${name}: a positive number, please (got ${value})`);
      Deno.exit(2);
    }
  }
  const result = await scheduleLatency(options);
  const { p50, p90, p99, max } = result.waitMs;
  if (result.samples === 0) {
    console.error("no message was measured: run for longer than a second");
    Deno.exit(1);
  }
  console.log(
    `${options.members} members, ${options.writeUs} µs a ${writes} write, ` +
      `${result.messagesPerSecond.toFixed(0)} messages/s: ` +
      `${result.writesPerSecond.toFixed(0)} writes/s; wait p50 ` +
      `${p50.toFixed(1)} p90 ${p90.toFixed(1)} p99 ${p99.toFixed(1)} max ` +
      `${max.toFixed(1)} ms (${result.samples} samples); ` +
      `${(result.deliveriesPerCpuSecond / 1e6).toFixed(2)} M deliveries ` +
      `per CPU-s at ${(100 * result.cpu).toFixed(0)}% of a core`,
  );
}
