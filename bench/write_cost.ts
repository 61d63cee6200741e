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
 *   the server's write gate allows (server/net/write_gate.ts).
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

const decoder = new TextDecoder();

/** A Deno writer, `inFlight` writes at a time, against the C reader. */
async function denoWriter(
  program: string,
  clients: number,
  bytes: number,
  rounds: number,
  inFlight: number,
): Promise<WriteCost> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
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
    const chunk = new Uint8Array(bytes).fill(0x78);
    const roundMs: number[] = [];
    const before = process.cpuUsage();
    for (let round = 0; round < rounds; round++) {
      const started = performance.now();
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
      roundMs.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const used = process.cpuUsage(before);
    const writes = clients * rounds;
    const status = await reader.output();
    return {
      writer: "deno",
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
 * write coalescing and the write gate (server/room_batch.ts, net/). Returns
 * wall-clock microseconds per write and the number of writes.
 */
export async function serverPathCost(
  clients: number,
  seconds: number,
  inFlight: number,
): Promise<{ usPerWrite: number; writes: number }> {
  let writes = 0;
  const socket = {
    write(bytes: Uint8Array): Promise<number> {
      writes++;
      return Promise.resolve(bytes.length);
    },
    close() {},
  };
  const gate = new WriteGate({ maxInFlight: inFlight });
  const scheduler = new FlushScheduler();
  const { room, batch, close } = stubRoom({
    members: clients,
    socketFor: () => socket,
    scheduler,
    gate,
  });
  const started = performance.now();
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
  const elapsed = performance.now() - started;
  close();
  return { usPerWrite: (elapsed * 1000) / writes, writes };
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
  for (
    const result of [
      await cWriter(built.path, clients, bytes, rounds),
      await denoWriter(built.path, clients, bytes, rounds, inFlight),
    ]
  ) {
    const total = result.userUsPerWrite + result.systemUsPerWrite;
    console.log(
      `${result.writer.padEnd(4)} writer: ${total.toFixed(2)} µs CPU a write ` +
        `(user ${result.userUsPerWrite.toFixed(2)}, system ` +
        `${result.systemUsPerWrite.toFixed(2)}); a round of ${clients} ` +
        `writes ${median(result.roundMs).toFixed(1)} ms (median); reader ` +
        `${result.readerCpuUsPerRead?.toFixed(2) ?? "?"} µs CPU a read`,
    );
  }
  const path = await serverPathCost(clients, 3, inFlight);
  console.log(
    `tern's own path (room log, send queues, write gate; sockets stubbed): ` +
      `${path.usPerWrite.toFixed(2)} µs a write over ${path.writes} writes`,
  );
}
