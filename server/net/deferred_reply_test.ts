import assert from "node:assert/strict";
import { NOT_YET, OutboundQueue, type ReplySource } from "./outbound_queue.ts";
import type { ByteWriter } from "../../wire/write_all.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

/** A writer that takes everything at once and keeps it as text. */
class TextWriter implements ByteWriter {
  text = "";
  write(chunk: Uint8Array): Promise<number> {
    this.text += new TextDecoder().decode(chunk);
    return Promise.resolve(chunk.length);
  }
}

/** A reply whose lines are not known until `resolve` gives them. */
function laterReply(): { source: ReplySource; resolve(lines: string[]): void } {
  let lines: string[] | null = null;
  return {
    source: {
      next: () => {
        if (lines === null) return NOT_YET;
        const line = lines.shift();
        return line === undefined ? null : { bytes: bytes(line) };
      },
    },
    resolve: (given) => lines = given,
  };
}

/** Runs queued flushes (the default scheduler ends the turn with a timer). */
const turn = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("a reply not yet known holds everything queued after it until woken", async () => {
  const writer = new TextWriter();
  const queue = new OutboundQueue(writer, {
    maxQueuedBytes: 1024,
    onError: (error) => {
      throw error;
    },
  });
  queue.enqueue(bytes("before;"));
  const reply = laterReply();
  queue.enqueueReply(reply.source);
  queue.enqueue(bytes("after;"));
  await queue.idle();
  await turn();
  assert.equal(writer.text, "before;");
  assert.equal(queue.queuedBytes, "after;".length, "what waits still counts");
  assert.ok(queue.replying);
  reply.resolve(["page1;", "page2;"]);
  queue.wake();
  await turn();
  await queue.idle();
  assert.equal(writer.text, "before;page1;page2;after;");
  assert.equal(queue.replying, false);
  queue.close();
});

Deno.test("bytes behind a reply not yet known still meet the hard limit", () => {
  const writer = new TextWriter();
  const queue = new OutboundQueue(writer, {
    maxQueuedBytes: 10,
    onError: (error) => {
      throw error;
    },
  });
  queue.enqueueReply(laterReply().source);
  assert.equal(queue.enqueue(bytes("12345678")), true);
  assert.equal(queue.enqueue(bytes("123")), false, "past the hard limit");
  queue.close();
});
