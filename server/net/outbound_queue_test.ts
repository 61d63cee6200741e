import assert from "node:assert/strict";
import { concat, OutboundQueue } from "./outbound_queue.ts";
import { type ByteWriter, writeAll } from "../../wire/write_all.ts";

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
  const queue = new OutboundQueue(
    writer,
    1024,
    () => assert.fail("no error expected"),
  );
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
  const queue = new OutboundQueue(writer, 1024, () => {});
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
  const queue = new OutboundQueue(writer, 1024, () => {});
  queue.enqueue(bytes("hello\n"));
  queue.enqueue(bytes("world\n"));
  await queue.idle();
  assert.equal(text(writes), "hello\nworld\n");
});

Deno.test("OutboundQueue refuses bytes past its bound, counting the write in flight", async () => {
  const writer = new ManualWriter();
  const queue = new OutboundQueue(writer, 10, () => {});
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
  const queue = new OutboundQueue(writer, 1024, (error) => errors.push(error));
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
  const queue = new OutboundQueue(writer, 1024, () => {}, () => now);
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
