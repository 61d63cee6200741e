import assert from "node:assert/strict";
import { WriteGate } from "./write_gate.ts";
import { OutboundQueue } from "./outbound_queue.ts";
import { dueDeadline } from "./deadlines.ts";
import { slowRuleDue } from "./slowness.ts";
import { DEFAULT_LIMITS } from "../limits.ts";
import type { ByteWriter } from "../../wire/write_all.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const decode = (chunk: Uint8Array) => new TextDecoder().decode(chunk);

/** A writer whose writes settle only when the test lets them. */
class ManualWriter implements ByteWriter {
  writes: Uint8Array[] = [];
  #release: Array<() => void> = [];
  write(chunk: Uint8Array): Promise<number> {
    this.writes.push(chunk.slice());
    return new Promise((resolve) =>
      this.#release.push(() => resolve(chunk.length))
    );
  }
  releaseOne(): void {
    this.#release.shift()?.();
  }
}

/** Lets the promise callbacks queued so far run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 4; i++) await Promise.resolve();
}

Deno.test("WriteGate starts at most maxInFlight writes, the rest in order as slots free", () => {
  const gate = new WriteGate({ maxInFlight: 2, releaseAfterMs: 60_000 });
  const started: Array<[string, number]> = [];
  for (const name of ["a", "b", "c", "d"]) {
    gate.request((slot) => started.push([name, slot]));
  }
  assert.deepEqual(started.map(([name]) => name), ["a", "b"]);
  assert.equal(gate.waiting, 2);
  gate.settled(started[0]![1]);
  assert.deepEqual(started.map(([name]) => name), ["a", "b", "c"]);
  gate.settled(started[1]![1]);
  gate.settled(started[2]![1]);
  assert.deepEqual(started.map(([name]) => name), ["a", "b", "c", "d"]);
  assert.equal(gate.waiting, 0);
  assert.equal(gate.inFlight, 1);
  gate.close();
});

Deno.test("WriteGate: writes that never settle stop holding their slots", async () => {
  const gate = new WriteGate({ maxInFlight: 1, releaseAfterMs: 5 });
  let stuckSlot = -1;
  gate.request((slot) => stuckSlot = slot);
  const { promise, resolve } = Promise.withResolvers<number>();
  gate.request(resolve);
  // The stalled write's reader never reads: after releaseAfterMs the next
  // write starts anyway (the timeout only guards the test).
  let guard: ReturnType<typeof setTimeout> | undefined;
  const slot = await Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      guard = setTimeout(() => reject(new Error("never started")), 5_000);
    }),
  ]);
  clearTimeout(guard);
  assert.notEqual(slot, stuckSlot);
  // The stalled write settling late frees nothing twice.
  gate.settled(stuckSlot);
  assert.equal(gate.inFlight, 1);
  gate.settled(slot);
  assert.equal(gate.inFlight, 0);
  gate.close();
});

Deno.test("WriteGate.close starts every waiting write", () => {
  const gate = new WriteGate({ maxInFlight: 1, releaseAfterMs: 60_000 });
  const started: string[] = [];
  for (const name of ["a", "b", "c"]) gate.request(() => started.push(name));
  gate.close();
  assert.deepEqual(started, ["a", "b", "c"]);
});

Deno.test("OutboundQueue: bytes queued while waiting at the gate leave in the same write", async () => {
  const gate = new WriteGate({ maxInFlight: 1, releaseAfterMs: 60_000 });
  const other = new ManualWriter();
  const mine = new ManualWriter();
  const busy = new OutboundQueue(other, {
    maxQueuedBytes: 1024,
    onError: () => {},
    gate,
  });
  const queue = new OutboundQueue(mine, {
    maxQueuedBytes: 1024,
    onError: () => {},
    gate,
  });
  busy.enqueue(bytes("first\n"));
  await settle();
  queue.enqueue(bytes("one\n"));
  await settle();
  queue.enqueue(bytes("two\n"));
  await settle();
  assert.equal(mine.writes.length, 0, "the gate's one slot is taken");
  other.releaseOne();
  await settle();
  assert.deepEqual(mine.writes.map(decode), ["one\ntwo\n"]);
  mine.releaseOne();
  await queue.idle();
  await busy.idle();
  gate.close();
});

Deno.test("a server busy with its own backlog cuts no reader that reads; a reader that stops is cut", async () => {
  // Two readers share a gate of one slot. The first stops reading: its
  // write stays with the kernel. The second reads, but its bytes wait at
  // the gate behind the first, the server's own backlog, for longer than
  // --write-timeout. Only the first is judged slow.
  let now = 1_000;
  const clock = () => now;
  const gate = new WriteGate({ maxInFlight: 1, releaseAfterMs: 60_000 });
  const stalledWriter = new ManualWriter();
  const readerWriter = new ManualWriter();
  const options = {
    maxQueuedBytes: 1024 * 1024,
    onError: () => {},
    now: clock,
    gate,
  };
  const stalled = new OutboundQueue(stalledWriter, options);
  const reader = new OutboundQueue(readerWriter, options);
  stalled.enqueue(bytes("to the stalled one\n"));
  reader.enqueue(bytes("to the reader\n"));
  await settle();
  assert.equal(stalled.writePendingSince, 1_000);
  assert.equal(reader.writePendingSince, 0, "not yet handed to the socket");

  now += DEFAULT_LIMITS.writeTimeoutMs + 1;
  const state = (queue: OutboundQueue) => ({
    state: "active" as const,
    codec: "text" as const,
    connectedAt: 0,
    lastInputAt: now,
    pingToken: null,
    pingSentAt: 0,
    writePendingSince: queue.writePendingSince,
    overSoftSince: queue.overSoftSince,
  });
  assert.equal(
    slowRuleDue(state(stalled), now, DEFAULT_LIMITS),
    "write_deadline",
  );
  assert.equal(dueDeadline(state(reader), now, DEFAULT_LIMITS), null);

  // The server gets to the reader: its write is handed over and taken.
  stalled.close();
  stalledWriter.releaseOne();
  await settle();
  assert.deepEqual(readerWriter.writes.map(decode), ["to the reader\n"]);
  assert.equal(reader.writePendingSince, now);
  readerWriter.releaseOne();
  await reader.idle();
  assert.equal(reader.writePendingSince, 0);
  assert.equal(dueDeadline(state(reader), now, DEFAULT_LIMITS), null);
  gate.close();
});

Deno.test("OutboundQueue: a write that throws at once fails that queue alone, and frees its slot", async () => {
  const gate = new WriteGate({ maxInFlight: 1, releaseAfterMs: 60_000 });
  const first = new ManualWriter();
  const errors: unknown[] = [];
  const throwing: ByteWriter = {
    write() {
      throw new Deno.errors.BadResource("closed");
    },
  };
  const healthy = new ManualWriter();
  const a = new OutboundQueue(first, {
    maxQueuedBytes: 1024,
    onError: () => assert.fail("the first queue is healthy"),
    gate,
  });
  const b = new OutboundQueue(throwing, {
    maxQueuedBytes: 1024,
    onError: (error) => errors.push(error),
    gate,
  });
  const c = new OutboundQueue(healthy, {
    maxQueuedBytes: 1024,
    onError: () => assert.fail("the third queue is healthy"),
    gate,
  });
  a.enqueue(bytes("a\n"));
  b.enqueue(bytes("b\n"));
  c.enqueue(bytes("c\n"));
  await settle();
  // a's write settles; the gate hands its slot to b, whose write throws
  // inside a's completion, then to c.
  first.releaseOne();
  await settle();
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof Deno.errors.BadResource);
  assert.deepEqual(healthy.writes.map(decode), ["c\n"]);
  healthy.releaseOne();
  await Promise.all([a.idle(), b.idle(), c.idle()]);
  assert.equal(gate.inFlight, 0);
  gate.close();
});

Deno.test("WriteGate: stalled writes let go of their slots even while other writes keep settling", async () => {
  // Three readers that never read hold three of four slots; one healthy
  // write at a time keeps settling. Each stalled write must stop counting on
  // its own clock, so that soon four healthy writes are in flight together.
  const gate = new WriteGate({ maxInFlight: 4, releaseAfterMs: 5 });
  for (let i = 0; i < 3; i++) gate.request(() => {});
  const healthy: number[] = [];
  const { promise, resolve } = Promise.withResolvers<number>();
  const requestHealthy = () =>
    gate.request((slot) => {
      healthy.push(slot);
      if (healthy.length >= 4) resolve(healthy.length);
    });
  for (let i = 0; i < 8; i++) requestHealthy();
  assert.equal(healthy.length, 1);
  const progress = setInterval(() => {
    const slot = healthy.shift();
    if (slot !== undefined) gate.settled(slot);
    requestHealthy();
  }, 1);
  let guard: ReturnType<typeof setTimeout> | undefined;
  try {
    const concurrent = await Promise.race([
      promise,
      new Promise<number>((done) => {
        guard = setTimeout(() => done(healthy.length), 2_000);
      }),
    ]);
    assert.ok(concurrent >= 4, `only ${concurrent} healthy writes at once`);
  } finally {
    clearInterval(progress);
    clearTimeout(guard);
    gate.close();
  }
});

Deno.test("WriteGate: a line that never empties stays bounded, in order", () => {
  const gate = new WriteGate({ maxInFlight: 4, releaseAfterMs: 60_000 });
  const members = 100;
  const order: number[] = [];
  // Each writer asks again as soon as its write settles, as the members of
  // a busy big room do: the line is never empty.
  const ask = (member: number) =>
    gate.request((slot) => {
      order.push(member);
      if (order.length < 50_000) {
        queueMicrotask(() => {
          gate.settled(slot);
          ask(member);
        });
      }
    });
  for (let m = 0; m < members; m++) ask(m);
  return new Promise<void>((resolve) => {
    const check = () => {
      if (order.length < 50_000) return setTimeout(check, 1);
      assert.ok(gate.lineCapacity < 10_000, `line holds ${gate.lineCapacity}`);
      // Round-robin: every window of `members` writes has each member once.
      const window = new Set(order.slice(40_000, 40_000 + members));
      assert.equal(window.size, members);
      gate.close();
      resolve();
    };
    check();
  });
});

/** Resolves `started`, or fails the test after `ms`. */
async function startsWithin<T>(started: Promise<T>, ms: number): Promise<T> {
  let guard: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      started,
      new Promise<never>((_, reject) => {
        guard = setTimeout(
          () => reject(new Error(`not started within ${ms} ms`)),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(guard);
  }
}

Deno.test("WriteGate: a write known to wait on its reader stops counting after releaseAfterMs, and its settle time teaches nothing", async () => {
  // The clock jumps as a reader that took 20 s to make room would make it.
  let offset = 0;
  const gate = new WriteGate({
    maxInFlight: 1,
    releaseAfterMs: 5,
    now: () => performance.now() + offset,
  });
  let slow = -1;
  gate.request((slot) => slow = slot, true);
  offset += 20_000;
  gate.settled(slow);
  // A reader that never reads takes the one slot; the next write waits for
  // it to stop counting: releaseAfterMs, not four times that 20 s.
  gate.request(() => {}, true);
  const { promise, resolve } = Promise.withResolvers<number>();
  gate.request(resolve, true);
  try {
    await startsWithin(promise, 2_000);
  } finally {
    gate.close();
  }
});

Deno.test("WriteGate: writes not known to wait on a reader still teach it the runtime's pace", async () => {
  let offset = 0;
  const gate = new WriteGate({
    maxInFlight: 1,
    releaseAfterMs: 5,
    now: () => performance.now() + offset,
  });
  let slow = -1;
  gate.request((slot) => slow = slot);
  offset += 20_000;
  gate.settled(slow);
  gate.request(() => {});
  let started = false;
  gate.request(() => started = true);
  // Patience is now four times the 2 s mean: well past this wait.
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(started, false);
  gate.close();
  assert.equal(started, true);
});
