import assert from "node:assert/strict";
import { CoalescingController, FlushScheduler } from "./coalescing.ts";
import { OutboundQueue } from "./outbound_queue.ts";
import type { ByteWriter } from "../../wire/write_all.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("FlushScheduler runs flushes at the end of the turn when not holding", async () => {
  const scheduler = new FlushScheduler();
  const ran: string[] = [];
  scheduler.schedule(() => ran.push("a"));
  assert.deepEqual(ran, [], "not synchronously");
  await Promise.resolve();
  assert.deepEqual(ran, ["a"]);
  scheduler.close();
});

Deno.test("FlushScheduler holds flushes for its delay, then runs them together", async () => {
  const scheduler = new FlushScheduler();
  scheduler.setDelay(20);
  const ran: string[] = [];
  scheduler.schedule(() => ran.push("a"));
  scheduler.schedule(() => ran.push("b"));
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(ran.join(","), "", "still held after a turn");
  await new Promise((resolve) => setTimeout(resolve, 40));
  assert.equal(ran.join(","), "a,b");
  scheduler.schedule(() => ran.push("c"));
  scheduler.setDelay(0);
  assert.deepEqual(
    ran,
    ["a", "b", "c"],
    "turning the hold off releases at once",
  );
  scheduler.close();
});

Deno.test("a held queue sends several lines in one write", async () => {
  const writes: string[] = [];
  const writer: ByteWriter = {
    write(chunk) {
      writes.push(new TextDecoder().decode(chunk));
      return Promise.resolve(chunk.length);
    },
  };
  const scheduler = new FlushScheduler();
  scheduler.setDelay(15);
  const queue = new OutboundQueue(writer, {
    maxQueuedBytes: 1024,
    onError: () => {},
    scheduler,
  });
  queue.enqueue(bytes("1\n"));
  await new Promise((resolve) => setTimeout(resolve, 1));
  queue.enqueue(bytes("2\n"));
  await queue.idle();
  assert.deepEqual(
    writes,
    ["1\n2\n"],
    "lines from different turns share a write",
  );
  scheduler.close();
});

Deno.test("CoalescingController grows the hold while busy, shrinks it while calm", () => {
  const scheduler = new FlushScheduler();
  const controller = new CoalescingController(scheduler, { maxDelayMs: 10 });
  const delays: number[] = [];
  for (
    const load of [0.1, 0.9, 0.9, 0.9, 0.9, 0.9, 0.45, 0.2, 0.2, 0.2, 0.2, 0.2]
  ) {
    controller.observe(load, 1);
    delays.push(scheduler.delayMs);
  }
  assert.deepEqual(delays, [0, 1, 2, 4, 8, 10, 10, 5, 2, 1, 0, 0]);
  scheduler.close();
});

Deno.test("CoalescingController with no hold allowed never holds", () => {
  const scheduler = new FlushScheduler();
  const controller = new CoalescingController(scheduler, { maxDelayMs: 0 });
  controller.observe(5, 1);
  assert.equal(scheduler.delayMs, 0);
});

Deno.test("CoalescingController does not hold when writes are already full", () => {
  const scheduler = new FlushScheduler();
  const controller = new CoalescingController(scheduler, { maxDelayMs: 10 });
  controller.observe(0.95, 30);
  assert.equal(scheduler.delayMs, 0, "busy, but each write carries 30 lines");
  controller.observe(0.95, 1);
  controller.observe(0.95, 1);
  assert.equal(scheduler.delayMs, 2);
  controller.observe(0.95, 5);
  assert.equal(
    scheduler.delayMs,
    2,
    "holding, and writes now carry some lines",
  );
  controller.observe(0.95, 12);
  assert.equal(scheduler.delayMs, 1, "full enough: let go");
  scheduler.close();
});

Deno.test("FlushScheduler counts lines per write between samples", () => {
  const scheduler = new FlushScheduler();
  assert.equal(scheduler.takeLinesPerWrite(), null);
  scheduler.countWrite(1);
  scheduler.countWrite(5);
  assert.equal(scheduler.takeLinesPerWrite(), 3);
  assert.equal(scheduler.takeLinesPerWrite(), null);
});
