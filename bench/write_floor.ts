/**
 * The C writer and reader pair of bench/native/write_cost.c: what writing
 * once to each of N loopback sockets costs on this machine with no server in
 * the way. bench/write_cost.ts reports it on its own; scenario e shows it
 * next to its latencies, since no server can deliver a message to a room of
 * N faster than one C process writes once to each of N sockets.
 *
 * @module
 */

import { buildC } from "./native_build.ts";

const decoder = new TextDecoder();

/** One writer's figures. */
export interface WriteCost {
  /** C's `write`, Deno's `conn.write`, or Deno calling the C library's `send`. */
  writer: "c" | "deno" | "send";
  writes: number;
  userUsPerWrite: number;
  systemUsPerWrite: number;
  roundMs: number[];
  readerCpuUsPerRead: number | null;
}

/** The middle value (the mean of the two middle ones for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? sorted[mid]!
    : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The reader's JSON line, from its standard error. */
export function readerFigure(text: string): number | null {
  const line = text.trim().split("\n").find((l) => l.startsWith("{"));
  if (line === undefined) return null;
  const parsed = JSON.parse(line) as { readerCpuUsPerRead?: number };
  return parsed.readerCpuUsPerRead ?? null;
}

/** The pair's program, built on first use; `missing` says why there is none. */
export function writeCostBinary(): Promise<
  { path: string } | { missing: string }
> {
  return buildC(
    new URL("./native/write_cost.c", import.meta.url),
    "write_cost",
  );
}

/**
 * The C writer against the C reader: `rounds` rounds, 50 ms apart, of one
 * `bytes`-byte write to each of `clients` sockets. The pair is killed after
 * `timeoutMs` (it can only hang if a socket fails to connect).
 */
export async function cWriter(
  program: string,
  clients: number,
  bytes: number,
  rounds: number,
  timeoutMs = 600_000,
): Promise<WriteCost> {
  const output = await new Deno.Command(program, {
    args: ["pair", String(clients), String(bytes), String(rounds)],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  }).output();
  if (!output.success) {
    const why = output.signal !== null
      ? `stopped after ${timeoutMs / 1000} s`
      : decoder.decode(output.stderr).trim().slice(0, 500);
    throw new Error(`C writer failed: ${why}`);
  }
  const result = JSON.parse(decoder.decode(output.stdout)) as WriteCost;
  result.readerCpuUsPerRead = readerFigure(decoder.decode(output.stderr));
  return result;
}

/** The floor under one message to a room of `clients`, as scenario e shows it. */
export interface WriteFloor {
  clients: number;
  bytes: number;
  rounds: number;
  /** The median round: one C write to each socket, in ms. */
  roundMs: number;
  /** Every round, in ms. */
  roundsMs: number[];
  /** The C writer's CPU (user and system) per write, in µs. */
  cpuUsPerWrite: number;
  userUsPerWrite: number;
  systemUsPerWrite: number;
  readerCpuUsPerRead: number | null;
}

/**
 * Measures the floor for a room of `clients`: 200-byte writes, 5 rounds,
 * bounded by `timeoutMs`. Returns why not instead when the program cannot be
 * built or the pair fails (too few descriptors allowed, for one).
 */
export async function measureFloor(
  clients: number,
  { bytes = 200, rounds = 5, timeoutMs = 60_000 } = {},
): Promise<WriteFloor | { missing: string }> {
  const built = await writeCostBinary();
  if ("missing" in built) return built;
  try {
    const cost = await cWriter(built.path, clients, bytes, rounds, timeoutMs);
    return {
      clients,
      bytes,
      rounds,
      roundMs: median(cost.roundMs),
      roundsMs: cost.roundMs,
      cpuUsPerWrite: cost.userUsPerWrite + cost.systemUsPerWrite,
      userUsPerWrite: cost.userUsPerWrite,
      systemUsPerWrite: cost.systemUsPerWrite,
      readerCpuUsPerRead: cost.readerCpuUsPerRead,
    };
  } catch (error) {
    return { missing: error instanceof Error ? error.message : String(error) };
  }
}
