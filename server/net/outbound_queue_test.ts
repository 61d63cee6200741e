import assert from "node:assert/strict";
import {
  concat,
  MAX_BATCH_BYTES,
  OutboundQueue,
  type QueueFeed,
  REPLY_LOW_WATER_BYTES,
  type ReplySource,
} from "./outbound_queue.ts";
import { type ByteWriter, writeAll } from "../../wire/write_all.ts";
import { FlushScheduler } from "./coalescing.ts";
import { SyncWriteBudget } from "./sync_write_budget.ts";
import { WriteGate } from "./write_gate.ts";
import { setImmediate } from "node:timers";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (chunks: Uint8Array[]) =>
  chunks.map((c) => new TextDecoder().decode(c)).join("");

/** A writer whose writes finish only when the test lets them. */
class ManualWriter implements ByteWriter {
  writes: Uint8Array[] = [];
  #release: Array<(n: number) => void> = [];
  /** Bytes taken per write; a small value forces partial writes. */
  constructor(private readonly takeAtMost = Infinity) {}
  write(chunk: Uint8Array): Promise<number> {
    const taken = chunk.slice(0, Math.min(chunk.length, this.takeAtMost));
    this.writes.push(taken);
    return new Promise((resolve) =>
      this.#release.push(() => resolve(taken.length))
    );
  }
  get pending(): number {
    return this.#release.length;
  }
  releaseOne(): void {
    this.#release.shift()?.(0);
  }
}

/** A writer that takes everything at once. */
class InstantWriter implements ByteWriter {
  writes: Uint8Array[] = [];
  write(chunk: Uint8Array): Promise<number> {
    this.writes.push(chunk.slice());
    return Promise.resolve(chunk.length);
  }
}

Deno.test("writeAll continues after partial writes", async () => {
  const chunks: Uint8Array[] = [];
  const writer: ByteWriter = {
    write(chunk) {
      const taken = chunk.slice(0, 3);
      chunks.push(taken);
      return Promise.resolve(taken.length);
    },
  };
  await writeAll(writer, bytes("hello world"));
  assert.equal(text(chunks), "hello world");
  assert.equal(chunks.length, 4);
});

Deno.test("OutboundQueue sends everything queued in one turn as one write", async () => {
  const writer = new InstantWriter();
  const queue = new OutboundQueue(writer, {
    maxQueuedBytes: 1024,
    onError: () => assert.fail("no error expected"),
  });
  for (const line of ["a\n", "b\n", "c\n"]) {
    assert.ok(queue.enqueue(bytes(line)));
  }
  await queue.idle();
  assert.equal(writer.writes.length, 1);
  assert.equal(text(writer.writes), "a\nb\nc\n");
  assert.equal(queue.queuedBytes, 0);
});

Deno.test("OutboundQueue keeps order and one write in flight", async () => {
  const writer = new ManualWriter();
  const queue = new OutboundQueue(writer, {
    maxQueuedBytes: 1024,
    onError: () => {},
  });
  queue.enqueue(bytes("1\n"));
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(writer.pending, 1);
  queue.enqueue(bytes("2\n"));
  queue.enqueue(bytes("3\n"));
  assert.equal(writer.pending, 1, "second write waits for the first");
  const idle = queue.idle();
  while (writer.pending > 0 || queue.queuedBytes > 0) {
    writer.releaseOne();
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  await idle;
  assert.equal(text(writer.writes), "1\n2\n3\n");
  assert.equal(writer.writes.length, 2, "the two queued while busy coalesce");
});

Deno.test("OutboundQueue survives partial writes", async () => {
  const writes: Uint8Array[] = [];
  const writer: ByteWriter = {
    write(chunk) {
      writes.push(chunk.slice(0, 2));
      return Promise.resolve(Math.min(2, chunk.length));
    },
  };
  const queue = new OutboundQueue(writer, {
    maxQueuedBytes: 1024,
    onError: () => {},
  });
  queue.enqueue(bytes("hello\n"));
  queue.enqueue(bytes("world\n"));
  await queue.idle();
  assert.equal(text(writes), "hello\nworld\n");
});

Deno.test("OutboundQueue refuses bytes past its hard limit, counting the write in flight", async () => {
  const writer = new ManualWriter();
  const queue = new OutboundQueue(writer, {
    maxQueuedBytes: 10,
    onError: () => {},
  });
  assert.ok(queue.enqueue(bytes("12345678")));
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(writer.pending, 1);
  assert.equal(queue.queuedBytes, 8);
  assert.ok(queue.enqueue(bytes("ab")));
  assert.equal(
    queue.enqueue(bytes("c")),
    false,
    "11 bytes would pass the bound",
  );
  assert.ok(queue.enqueue(bytes("forced goodbye"), true));
  queue.close();
  assert.equal(queue.enqueue(bytes("x"), true), false, "closed");
  writer.releaseOne();
  await queue.idle();
});

Deno.test("OutboundQueue reports a failed write once and closes", async () => {
  const errors: unknown[] = [];
  const writer: ByteWriter = {
    write: () => Promise.reject(new Deno.errors.BrokenPipe("gone")),
  };
  const queue = new OutboundQueue(writer, {
    maxQueuedBytes: 1024,
    onError: (error) => errors.push(error),
  });
  queue.enqueue(bytes("a\n"));
  await queue.idle();
  queue.enqueue(bytes("b\n"));
  await queue.idle();
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof Deno.errors.BrokenPipe);
});

Deno.test("OutboundQueue reports how long a write has been pending", async () => {
  let now = 1000;
  const writer = new ManualWriter();
  const queue = new OutboundQueue(writer, {
    maxQueuedBytes: 1024,
    onError: () => {},
    now: () => now,
  });
  assert.equal(queue.writePendingSince, 0);
  queue.enqueue(bytes("x\n"));
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(queue.writePendingSince, 1000);
  now = 5000;
  writer.releaseOne();
  await queue.idle();
  assert.equal(queue.writePendingSince, 0);
});

Deno.test("concat shares one join among recipients of the same chunks", () => {
  const a = bytes("one\n");
  const b = bytes("two\n");
  const first = concat([a, b], 8);
  assert.equal(new TextDecoder().decode(first), "one\ntwo\n");
  assert.equal(concat([a, b], 8), first, "same chunk objects: the same join");
  const other = concat([a, bytes("two\n")], 8);
  assert.notEqual(other, first, "equal bytes in another object: joined anew");
  assert.equal(new TextDecoder().decode(other), "one\ntwo\n");
  assert.equal(concat([b], 4), b, "a single chunk is not copied");
});

/** Lets the queue's promise callbacks and microtasks run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Releases writes one at a time until the queue has nothing left. */
async function drain(writer: ManualWriter, queue: OutboundQueue) {
  const idle = queue.idle();
  await settle();
  while (writer.pending > 0) {
    writer.releaseOne();
    await settle();
  }
  await idle;
}

Deno.test("OutboundQueue takes a burst far above the soft limit: only time judges it", async () => {
  let now = 1000;
  const writer = new ManualWriter();
  const queue = new OutboundQueue(writer, {
    maxQueuedBytes: 1_000_000,
    softQueuedBytes: 1000,
    onError: () => {},
    now: () => now,
  });
  for (let i = 0; i < 10; i++) {
    assert.ok(queue.enqueue(new Uint8Array(100)), `line ${i} accepted`);
  }
  assert.equal(queue.overSoftSince, 0, "at 1,000 bytes: not over yet");
  now = 1500;
  for (let i = 0; i < 90; i++) {
    assert.ok(queue.enqueue(new Uint8Array(100)), `line ${i} accepted`);
  }
  assert.equal(queue.queuedBytes, 10_000);
  assert.equal(queue.overSoftSince, 1500, "the clock started when it passed");
  now = 2000;
  await drain(writer, queue);
  assert.equal(queue.queuedBytes, 0);
  assert.equal(queue.overSoftSince, 0, "drained: the clock stops");
});

Deno.test("OutboundQueue notes since when its backlog stays above the soft limit", async () => {
  let now = 1000;
  const writer = new ManualWriter(600);
  const queue = new OutboundQueue(writer, {
    maxQueuedBytes: 100_000,
    softQueuedBytes: 1000,
    onError: () => {},
    now: () => now,
  });
  queue.enqueue(new Uint8Array(900));
  assert.equal(queue.overSoftSince, 0);
  now = 2000;
  queue.enqueue(new Uint8Array(900));
  assert.equal(queue.overSoftSince, 2000, "1,800 bytes: over since 2000");
  now = 3000;
  queue.enqueue(new Uint8Array(100));
  assert.equal(queue.overSoftSince, 2000, "still over: the start stays");
  await settle();
  writer.releaseOne(); // the kernel takes 600 of 1,900: 1,300 left
  await settle();
  assert.equal(queue.queuedBytes, 1300);
  assert.equal(queue.overSoftSince, 2000);
  writer.releaseOne(); // 700 left: under the soft limit again
  await settle();
  assert.equal(queue.queuedBytes, 700);
  assert.equal(queue.overSoftSince, 0);
  await drain(writer, queue);
});

Deno.test("OutboundQueue refuses only past the hard limit", () => {
  const queue = new OutboundQueue(new ManualWriter(), {
    maxQueuedBytes: 3000,
    softQueuedBytes: 1000,
    onError: () => {},
  });
  assert.ok(queue.enqueue(new Uint8Array(2000)));
  assert.ok(queue.enqueue(new Uint8Array(1000)), "exactly at the hard limit");
  assert.equal(queue.enqueue(new Uint8Array(1)), false, "past it");
  queue.close();
});

Deno.test("OutboundQueue writes a long backlog in bounded batches, in order", async () => {
  const writer = new InstantWriter();
  const queue = new OutboundQueue(writer, {
    maxQueuedBytes: 1 << 24,
    onError: () => {},
  });
  const lines: string[] = [];
  for (let i = 0; i < 5000; i++) {
    const line = `${i} ${"z".repeat(60)}\n`;
    lines.push(line);
    queue.enqueue(bytes(line));
  }
  await queue.idle();
  assert.ok(writer.writes.length > 1);
  for (const write of writer.writes) {
    assert.ok(write.length <= MAX_BATCH_BYTES, `${write.length} bytes`);
  }
  assert.equal(text(writer.writes), lines.join(""));
});

/** A reply of `count` pieces of `size` bytes, counting what was asked. */
function countingReply(count: number, size: number, written?: () => void) {
  const state = { pulled: 0 };
  const source: ReplySource = {
    next() {
      if (state.pulled === count) return null;
      state.pulled++;
      const piece = new Uint8Array(size).fill(0x61 + (state.pulled % 26));
      return written === undefined
        ? { bytes: piece }
        : { bytes: piece, written };
    },
  };
  return { source, state };
}

Deno.test("OutboundQueue pulls a reply only as the backlog drains below the low-water mark", async () => {
  const writer = new ManualWriter();
  const queue = new OutboundQueue(writer, {
    maxQueuedBytes: 1 << 24,
    softQueuedBytes: 2 * REPLY_LOW_WATER_BYTES,
    onError: () => {},
  });
  const piece = 16 * 1024;
  const { source, state } = countingReply(100, piece);
  queue.enqueueReply(source);
  const atOnce = REPLY_LOW_WATER_BYTES / piece;
  assert.equal(state.pulled, atOnce, "pulled up to the low-water mark");
  assert.ok(queue.queuedBytes <= REPLY_LOW_WATER_BYTES);
  assert.equal(queue.overSoftSince, 0, "a reply is not slowness");
  await drain(writer, queue);
  assert.equal(state.pulled, 100, "the whole reply, as the writes finished");
  assert.equal(
    writer.writes.reduce((sum, write) => sum + write.length, 0),
    100 * piece,
  );
});

Deno.test("OutboundQueue keeps what is queued after a reply behind it", async () => {
  const writer = new ManualWriter();
  const queue = new OutboundQueue(writer, {
    maxQueuedBytes: 1 << 24,
    onError: () => {},
  });
  queue.enqueue(bytes("before\n"));
  let n = 0;
  const pieces = 20;
  const size = 8 * 1024;
  queue.enqueueReply({
    next: () =>
      n === pieces ? null : { bytes: bytes(`${n++}`.padEnd(size - 1) + "\n") },
  });
  assert.ok(queue.replying);
  assert.ok(queue.enqueue(bytes("after\n")));
  assert.ok(queue.queuedBytes >= 6, "bytes behind a reply are backlog");
  await drain(writer, queue);
  assert.equal(queue.replying, false);
  const lines = text(writer.writes).split("\n").slice(0, -1);
  assert.equal(lines.length, pieces + 2);
  assert.equal(lines[0], "before");
  for (let i = 0; i < pieces; i++) assert.equal(lines[i + 1]!.trim(), `${i}`);
  assert.equal(lines.at(-1), "after");
});

Deno.test("OutboundQueue tells a reply's piece it was written only once the socket took it", async () => {
  const writer = new ManualWriter(1000);
  const queue = new OutboundQueue(writer, {
    maxQueuedBytes: 1 << 24,
    onError: () => {},
  });
  let written = 0;
  const { source } = countingReply(3, 1500, () => written++);
  queue.enqueueReply(source);
  await settle();
  assert.equal(written, 0, "nothing taken yet");
  writer.releaseOne(); // 1,000 of 4,500 bytes
  await settle();
  assert.equal(written, 0);
  writer.releaseOne(); // 2,000: the first piece is out
  await settle();
  assert.equal(written, 1);
  queue.close();
  await settle();
  writer.releaseOne();
  await settle();
  assert.equal(written, 1, "pieces never written are never reported");
});

Deno.test("OutboundQueue drops a reply when discarding or closed", async () => {
  const writer = new InstantWriter();
  const queue = new OutboundQueue(writer, {
    maxQueuedBytes: 1 << 24,
    onError: () => {},
  });
  const { source, state } = countingReply(1000, 32 * 1024);
  queue.enqueueReply(source);
  queue.enqueue(bytes("behind\n"));
  queue.discardQueued();
  assert.equal(queue.queuedBytes, 0);
  await queue.idle();
  const pulledBefore = state.pulled;
  assert.ok(pulledBefore < 1000);
  queue.enqueue(bytes("goodbye\n"), true);
  await queue.idle();
  assert.equal(state.pulled, pulledBefore, "the reply is gone");
  assert.ok(text(writer.writes).endsWith("goodbye\n"));
  queue.close();
  const late = countingReply(5, 10);
  queue.enqueueReply(late.source);
  assert.equal(late.state.pulled, 0, "a closed queue takes no reply");
});

Deno.test("OutboundQueue pulls from its feed when each write starts, and says when it is idle", async () => {
  const writer = new ManualWriter();
  const waiting: string[] = [];
  let idles = 0;
  const feed: QueueFeed = {
    pending: () => waiting.length > 0,
    pull: () => {
      if (waiting.length > 0) queue.enqueue(bytes(waiting.splice(0).join("")));
    },
    idle: () => idles++,
  };
  const queue: OutboundQueue = new OutboundQueue(writer, {
    maxQueuedBytes: 1024,
    onError: () => {},
    feed,
  });
  waiting.push("a\n", "b\n");
  assert.equal(writer.pending, 0, "nothing moves until poked");
  queue.poke();
  await Promise.resolve();
  assert.equal(writer.pending, 1);
  assert.equal(text(writer.writes), "a\nb\n", "pulled as one write");
  waiting.push("c\n");
  queue.enqueue(bytes("direct\n"));
  waiting.push("d\n");
  assert.equal(writer.pending, 1, "one write in flight");
  writer.releaseOne();
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(
    text(writer.writes.slice(1)),
    "direct\nc\nd\n",
    "what the feed held when the write started joins it, after what was queued",
  );
  assert.equal(idles, 0);
  writer.releaseOne();
  await queue.idle();
  assert.equal(idles, 1, "told once that it went idle");
  assert.equal(writer.pending, 0);
});

Deno.test("OutboundQueue writes what its feed holds at the end of the turn it is poked, even while the scheduler holds output", async () => {
  const writer = new ManualWriter();
  const waiting: string[] = ["a\n"];
  const feed: QueueFeed = {
    pending: () => waiting.length > 0,
    pull: () => {
      if (waiting.length > 0) queue.enqueue(bytes(waiting.splice(0).join("")));
    },
    idle: () => {},
  };
  const scheduler = new FlushScheduler();
  scheduler.setDelay(60_000);
  const queue: OutboundQueue = new OutboundQueue(writer, {
    maxQueuedBytes: 1024,
    onError: () => {},
    scheduler,
    feed,
  });
  queue.poke();
  await Promise.resolve();
  assert.equal(
    text(writer.writes),
    "a\n",
    "the feed spaced its pulls by the hold: not held again",
  );
  writer.releaseOne();
  await queue.idle();
  queue.enqueue(bytes("direct\n"));
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(writer.writes.length, 1, "bytes queued directly are held");
  scheduler.close();
  await Promise.resolve();
  assert.equal(text(writer.writes), "a\ndirect\n");
  writer.releaseOne();
  await queue.idle();
});

/**
 * A socket with a write made at once that takes up to `room` bytes (then
 * none until `drain`), and an asynchronous write the test settles.
 */
class DirectWriter extends ManualWriter {
  direct: Uint8Array[] = [];
  /** Every write's bytes, either kind, in the order they were taken. */
  taken: Uint8Array[] = [];
  fail: Error | null = null;
  constructor(public room = Infinity) {
    super();
  }
  override write(chunk: Uint8Array): Promise<number> {
    this.taken.push(chunk.slice());
    return super.write(chunk);
  }
  tryWrite(chunk: Uint8Array): number {
    if (this.fail !== null) throw this.fail;
    const taken = chunk.slice(0, Math.min(chunk.length, this.room));
    this.room -= taken.length;
    if (taken.length !== 0) {
      this.direct.push(taken);
      this.taken.push(taken);
    }
    return taken.length;
  }
}

const sent = (writer: DirectWriter) => text(writer.taken);

Deno.test("OutboundQueue writes at once when its socket can, one write a turn's burst", async () => {
  const writer = new DirectWriter();
  const queue = new OutboundQueue(writer, {
    maxQueuedBytes: 1024,
    onError: () => assert.fail("no error expected"),
  });
  queue.enqueue(bytes("a\n"));
  queue.enqueue(bytes("b\n"));
  await queue.idle();
  assert.deepEqual(writer.direct.map((c) => text([c])), ["a\nb\n"]);
  assert.equal(writer.writes.length, 0, "no asynchronous write");
  assert.equal(queue.writePendingSince, 0);
  queue.enqueue(bytes("c\n"));
  await queue.idle();
  assert.equal(sent(writer), "a\nb\nc\n");
});

Deno.test("OutboundQueue sends what its socket did not take at once by waiting on it, in order", async () => {
  let now = 500;
  const writer = new DirectWriter(3);
  const queue = new OutboundQueue(writer, {
    maxQueuedBytes: 1024,
    onError: () => assert.fail("no error expected"),
    now: () => now,
  });
  queue.enqueue(bytes("hello\n"));
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(text(writer.direct), "hel");
  assert.equal(writer.pending, 1, "the rest waits on the socket");
  assert.equal(queue.writePendingSince, 500, "and counts as a pending write");
  assert.equal(queue.queuedBytes, 3);
  queue.enqueue(bytes("world\n"));
  now = 900;
  writer.room = Infinity;
  writer.releaseOne();
  await queue.idle();
  assert.equal(sent(writer), "hello\nworld\n");
  assert.equal(
    text(writer.direct.slice(1)),
    "world\n",
    "once the socket has taken the rest, writes are made at once again",
  );
});

Deno.test("OutboundQueue reports a failed write made at once, once, and closes", async () => {
  const errors: unknown[] = [];
  const writer = new DirectWriter();
  writer.fail = new Deno.errors.ConnectionReset("reset");
  const queue = new OutboundQueue(writer, {
    maxQueuedBytes: 1024,
    onError: (error) => errors.push(error),
  });
  queue.enqueue(bytes("a\n"));
  await queue.idle();
  assert.equal(queue.enqueue(bytes("b\n")), false, "closed");
  await queue.idle();
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof Deno.errors.ConnectionReset);
});

Deno.test("OutboundQueue tells a reply's piece it was written when a write made at once took it", async () => {
  const writer = new DirectWriter();
  const queue = new OutboundQueue(writer, {
    maxQueuedBytes: 1024,
    onError: () => assert.fail("no error expected"),
  });
  const told: string[] = [];
  let pieces = 0;
  queue.enqueueReply({
    next: () =>
      pieces++ < 2
        ? {
          bytes: bytes(`piece ${pieces}\n`),
          written: () => {
            told.push(`piece ${pieces} written; sent ${sent(writer).length}`);
            // Queued from inside the write: goes after, not in a write of
            // its own started in the middle of this one.
            queue.enqueue(bytes("after\n"));
          },
        }
        : null,
  });
  await queue.idle();
  assert.equal(sent(writer), "piece 1\npiece 2\nafter\nafter\n");
  assert.equal(told.length, 2);
});

Deno.test("OutboundQueue waits for the next turn when the turn's writes made at once are spent", async () => {
  const budget = new SyncWriteBudget(2);
  const writers = [1, 2, 3].map(() => new DirectWriter());
  const queues = writers.map((writer) =>
    new OutboundQueue(writer, {
      maxQueuedBytes: 1024,
      onError: () => assert.fail("no error expected"),
      budget,
    })
  );
  queues.forEach((queue, i) => queue.enqueue(bytes(`${i}\n`)));
  // The end of this turn: two of three are written.
  await Promise.resolve();
  await Promise.resolve();
  assert.deepEqual(writers.map((w) => w.direct.length), [1, 1, 0]);
  assert.equal(budget.waiting, 1);
  queues[2]!.enqueue(bytes("more\n"));
  await queues[2]!.idle();
  assert.equal(sent(writers[2]!), "2\nmore\n", "one write, in order");
  assert.equal(writers[2]!.direct.length, 1);
  await new Promise((resolve) => setImmediate(resolve));
});

/** A {@linkcode DirectWriter} that says when its asynchronous write starts. */
class WatchedWriter extends DirectWriter {
  readonly started = Promise.withResolvers<void>();
  override write(chunk: Uint8Array): Promise<number> {
    this.started.resolve();
    return super.write(chunk);
  }
}

Deno.test("OutboundQueue: what the socket did not take at once waits at the gate as a write on its reader, whose pace teaches the gate nothing", async () => {
  // One slot. A reader takes 20 s to make room, then one stops reading
  // for good: a third, behind for a moment, must get its turn once
  // releaseAfterMs has passed, not after four times that 20 s.
  let offset = 0;
  const gate = new WriteGate({
    maxInFlight: 1,
    releaseAfterMs: 5,
    now: () => performance.now() + offset,
  });
  const [slow, stalled, behind] = [0, 1, 2].map(() => new WatchedWriter(0));
  const queues = [slow!, stalled!, behind!].map((writer) =>
    new OutboundQueue(writer, {
      maxQueuedBytes: 1024,
      onError: () => assert.fail("no error expected"),
      gate,
    })
  );
  let guard: ReturnType<typeof setTimeout> | undefined;
  try {
    queues[0]!.enqueue(bytes("to the slow one\n"));
    await slow!.started.promise;
    offset += 20_000;
    slow!.releaseOne();
    await queues[0]!.idle();
    queues[1]!.enqueue(bytes("to the stalled one\n"));
    await stalled!.started.promise;
    queues[2]!.enqueue(bytes("to the one behind\n"));
    await Promise.race([
      behind!.started.promise,
      new Promise<never>((_, reject) => {
        guard = setTimeout(
          () => reject(new Error("still waiting at the gate after 2 s")),
          2_000,
        );
      }),
    ]);
  } finally {
    clearTimeout(guard);
    for (const queue of queues) queue.close();
    gate.close();
  }
});

Deno.test("OutboundQueue counts a promised reply once, from its promise until it is gone", async () => {
  const writer = new ManualWriter();
  const queue = new OutboundQueue(writer, {
    maxQueuedBytes: 1 << 24,
    onError: () => {},
  });
  queue.promiseReply();
  queue.promiseReply();
  assert.equal(queue.repliesWaiting, 2, "counted before it is queued");
  let woken = false;
  const below = queue.repliesBelow(2).then(() => woken = true);
  queue.enqueueReply(countingReply(100, 16 * 1024).source, true);
  assert.equal(queue.repliesWaiting, 2, "queued, not counted twice");
  await settle();
  assert.equal(woken, false);
  queue.dropReplies();
  assert.equal(queue.repliesWaiting, 0, "a closing connection owes none");
  await below;
  // One kept after the drop is a reply like any other.
  queue.enqueueReply(countingReply(100, 16 * 1024).source, true);
  assert.equal(queue.repliesWaiting, 1);
  await drain(writer, queue);
  assert.equal(queue.repliesWaiting, 0);
  queue.close();
});
