/**
 * What one socket write costs on this machine, outside any server: the floor
 * under a fan-out that writes once per member (a big room's every message
 * reaches each member in one write at best).
 *
 *   deno task bench-write-cost [--clients 10000] [--bytes 2000] [--rounds 10]
 *                              [--in-flight 32]
 *
 * Two writers, each writing `--bytes` to every one of `--clients` loopback
 * sockets in turn, `--rounds` times, 50 ms apart, to the same C reader (one
 * epoll process, bench/native/write_cost.c):
 *
 * - a C writer, one `write` system call per socket;
 * - a Deno writer, `conn.write` with at most `--in-flight` writes pending, as
 *   the server's write gate allows (server/net/write_gate.ts);
 * - a Deno writer making each write at once through the C library's `send`,
 *   as the server does for plain TCP (server/net/libc_socket.ts); left out,
 *   with a note, where the runtime does not allow it.
 *
 * It prints the CPU per write (user and system) and the median time of a
 * round: how long writing once to every member of a room that size takes at
 * least, in C and in Deno, before any of the server's own work. Then the
 * server's own work per write on top of that, measured apart with sockets
 * that take every write at once ({@linkcode serverPathCost}).
 *
 * @module
 */

import process from "node:process";
import { parseArgs } from "node:util";
import {
  cWriter,
  median,
  readerFigure,
  type WriteCost,
  writeCostBinary,
} from "./write_floor.ts";
import { stubRoom } from "./stub_room.ts";
import { WriteGate } from "../server/net/write_gate.ts";
import { FlushScheduler } from "../server/net/coalescing.ts";
import { EncodedEvent } from "../protocol.ts";
import { LibcSocket } from "../server/net/libc_socket.ts";
import { SyncWriteBudget } from "../server/net/sync_write_budget.ts";
import { DEFAULT_LIMITS } from "../server/limits.ts";
import { writeAll } from "../wire/write_all.ts";

const decoder = new TextDecoder();

/**
 * A Deno writer against the C reader: `inFlight` `conn.write`s at a time,
 * or, given `libc`, each write made at once through `send` (what the
 * kernel does not take at once goes through `conn.write`).
 */
async function denoWriter(
  program: string,
  clients: number,
  bytes: number,
  rounds: number,
  inFlight: number,
  libc: LibcSocket | null = null,
): Promise<WriteCost> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.TcpConn[] = [];
  const reader = new Deno.Command(program, {
    args: [
      "read",
      String(clients),
      String(listener.addr.port),
      String(clients * bytes * rounds),
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  try {
    while (conns.length < clients) conns.push(await listener.accept());
    const direct = libc === null
      ? null
      : conns.map((conn) => libc.socket(conn) ?? conn);
    const chunk = new Uint8Array(bytes).fill(0x78);
    const roundMs: number[] = [];
    const before = process.cpuUsage();
    for (let round = 0; round < rounds; round++) {
      const started = performance.now();
      if (direct !== null) {
        for (const socket of direct) {
          const taken = "tryWrite" in socket ? socket.tryWrite(chunk) : 0;
          if (taken < chunk.length) {
            await writeAll(socket, chunk.subarray(taken));
          }
        }
      } else {
        await new Promise<void>((done, fail) => {
          let next = 0;
          let pending = 0;
          let finished = 0;
          const pump = () => {
            while (pending < inFlight && next < conns.length) {
              const conn = conns[next++]!;
              pending++;
              conn.write(chunk).then((n) => {
                if (n !== chunk.length) throw new Error(`short write: ${n}`);
                pending--;
                if (++finished === conns.length) done();
                else pump();
              }).catch(fail);
            }
          };
          pump();
        });
      }
      roundMs.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const used = process.cpuUsage(before);
    const writes = clients * rounds;
    const status = await reader.output();
    return {
      writer: libc === null ? "deno" : "send",
      writes,
      userUsPerWrite: used.user / writes,
      systemUsPerWrite: used.system / writes,
      roundMs,
      readerCpuUsPerRead: readerFigure(decoder.decode(status.stderr)),
    };
  } finally {
    for (const conn of conns) conn.close();
    listener.close();
  }
}

/**
 * The server's own work per write, without the system call: a big room of
 * `clients` sessions whose sockets take every write at once, fed `rate`
 * messages a second for `seconds`, through the room's log, the send queues,
 * write coalescing, and either the writes made at once with their budget
 * (`sync`, what the server does for plain TCP on Linux) or the write gate
 * (`async`, Deno's `conn.write`; server/room_batch.ts, net/). Returns
 * the process's CPU time per write, in microseconds (a run made of writes
 * made at once waits idle between turns, which wall-clock time would
 * count), the number of writes, and the lines a write carried on average:
 * the loop adds messages as fast as the turns come, so the two ways batch
 * them differently, and a write carrying more lines costs more to build.
 */
export async function serverPathCost(
  clients: number,
  seconds: number,
  inFlight: number,
  writes: "sync" | "async" = "sync",
): Promise<{ usPerWrite: number; linesPerWrite: number; writes: number }> {
  let count = 0;
  const socket = {
    write(bytes: Uint8Array): Promise<number> {
      count++;
      return Promise.resolve(bytes.length);
    },
    ...(writes === "sync"
      ? {
        tryWrite(bytes: Uint8Array): number {
          count++;
          return bytes.length;
        },
      }
      : {}),
    close() {},
  };
  const gate = new WriteGate({ maxInFlight: inFlight });
  const scheduler = new FlushScheduler();
  const { room, batch, close } = stubRoom({
    members: clients,
    socketFor: () => socket,
    scheduler,
    gate,
    ...(writes === "sync"
      ? { budget: new SyncWriteBudget(DEFAULT_LIMITS.syncWritesPerTurn) }
      : {}),
  });
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const until = started + seconds * 1000;
  let id = 0;
  while (performance.now() < until) {
    // Ten messages a turn, then the turn ends and the writes settle.
    for (let k = 0; k < 10; k++) {
      const event = new EncodedEvent({
        type: "message",
        id: ++id,
        ts: Date.now(),
        room: room.name,
        from: "sender",
        text: "x".repeat(100),
      });
      batch.add(event, batch.accept(), null);
    }
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  close();
  const cpu = process.cpuUsage(cpuBefore);
  const us = cpu.user + cpu.system;
  // close() sent every member what it had not pulled: all got every message.
  return {
    usPerWrite: us / count,
    linesPerWrite: (id * clients) / count,
    writes: count,
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      clients: { type: "string", default: "10000" },
      bytes: { type: "string", default: "2000" },
      rounds: { type: "string", default: "10" },
      "in-flight": { type: "string", default: "32" },
    },
  });
  const clients = Number(values.clients);
  const bytes = Number(values.bytes);
  const rounds = Number(values.rounds);
  const inFlight = Number(values["in-flight"]);
  const built = await writeCostBinary();
  if ("missing" in built) {
    console.error(`cannot measure: ${built.missing}`);
    Deno.exit(1);
  }
  const load = (await Deno.readTextFile("/proc/loadavg")).split(" ")[0];
  console.log(
    `${clients} loopback sockets, ${bytes} B a write, ${rounds} rounds; ` +
      `load average ${load} at the start`,
  );
  const results = [
    await cWriter(built.path, clients, bytes, rounds),
    await denoWriter(built.path, clients, bytes, rounds, inFlight),
  ];
  const libc = LibcSocket.open();
  if ("unavailable" in libc) {
    console.log(`send writer: left out (${libc.unavailable})`);
  } else {
    try {
      results.push(
        await denoWriter(built.path, clients, bytes, rounds, inFlight, libc),
      );
    } finally {
      libc.close();
    }
  }
  for (const result of results) {
    const total = result.userUsPerWrite + result.systemUsPerWrite;
    console.log(
      `${result.writer.padEnd(4)} writer: ${total.toFixed(2)} µs CPU a write ` +
        `(user ${result.userUsPerWrite.toFixed(2)}, system ` +
        `${result.systemUsPerWrite.toFixed(2)}); a round of ${clients} ` +
        `writes ${median(result.roundMs).toFixed(1)} ms (median); reader ` +
        `${result.readerCpuUsPerRead?.toFixed(2) ?? "?"} µs CPU a read`,
    );
  }
  for (
    const [writes, how] of [
      ["sync", "writes made at once"],
      ["async", "write gate"],
    ] as const
  ) {
    const path = await serverPathCost(clients, 3, inFlight, writes);
    console.log(
      `tern's own path (room log, send queues, ${how}; sockets stubbed): ` +
        `${path.usPerWrite.toFixed(2)} µs CPU a write over ${path.writes} ` +
        `writes, ${path.linesPerWrite.toFixed(1)} lines a write`,
    );
  }
}
