import assert from "node:assert/strict";
import { type BatchMember, RoomBatch } from "./room_batch.ts";
import { type Codec, EncodedEvent } from "../protocol.ts";

const decoder = new TextDecoder();

/** A member that records every chunk it is sent, decoded. */
class Member implements BatchMember {
  readonly chunks: string[] = [];
  constructor(readonly codec: Codec = "text") {}
  sendBytes(bytes: Uint8Array): void {
    this.chunks.push(decoder.decode(bytes));
  }
}

function notice(text: string): EncodedEvent {
  return new EncodedEvent({ type: "notice", text });
}

function batchOf(members: Set<Member>, holdMs = 0) {
  let extra = 0;
  const feed = new RoomBatch<Member>({
    members: () => members,
    holdMs: () => holdMs,
    flushed: (lines) => extra += lines,
  });
  return { feed, extra: () => extra };
}

Deno.test("RoomBatch sends a turn's events to each member as one chunk", async () => {
  const a = new Member();
  const b = new Member("json");
  const { feed, extra } = batchOf(new Set([a, b]));
  feed.add(notice("one"), feed.accept(), null);
  feed.add(notice("two"), feed.accept(), null);
  assert.equal(a.chunks.length, 0, "held until the end of the turn");
  await Promise.resolve();
  assert.deepEqual(a.chunks, ["*** one\n*** two\n"]);
  assert.equal(b.chunks.length, 1);
  assert.match(b.chunks[0]!, /^\{"type":"notice","text":"one"\}\n\{.*"two"/);
  assert.equal(extra(), 2, "two writes carried one line more than counted");
  assert.equal(feed.pending, false);
});

Deno.test("RoomBatch leaves out a text sender's own line, not a JSON one's", () => {
  const text = new Member();
  const json = new Member("json");
  const other = new Member();
  const { feed } = batchOf(new Set([text, json, other]));
  feed.add(notice("from text"), feed.accept(), text);
  feed.add(notice("from json"), feed.accept(), json);
  feed.flush();
  assert.deepEqual(text.chunks, ["*** from json\n"]);
  assert.equal(json.chunks.length, 1);
  assert.match(json.chunks[0]!, /from text.*\n.*from json/);
  assert.deepEqual(other.chunks, ["*** from text\n*** from json\n"]);
});

Deno.test("RoomBatch gives a joiner nothing accepted before it joined", () => {
  const old = new Member();
  const members = new Set([old]);
  const { feed } = batchOf(members);
  feed.add(notice("held"), feed.accept(), null);
  // Accepted, but still waiting (for the history's commit) when c joins.
  const waiting = feed.accept();
  const joiner = new Member();
  feed.joining(joiner);
  assert.deepEqual(old.chunks, ["*** held\n"], "joining flushed first");
  members.add(joiner);
  feed.add(notice("before the join"), waiting, null);
  feed.add(notice("after the join"), feed.accept(), null);
  feed.flush();
  assert.deepEqual(joiner.chunks, ["*** after the join\n"]);
  assert.deepEqual(old.chunks.slice(1), [
    "*** before the join\n*** after the join\n",
  ]);
  feed.add(notice("later"), feed.accept(), null);
  feed.flush();
  assert.deepEqual(joiner.chunks.at(-1), "*** later\n");
});

Deno.test("RoomBatch holds for its hold time, and close sends at once", () => {
  const a = new Member();
  const { feed } = batchOf(new Set([a]), 60_000);
  feed.add(notice("x"), feed.accept(), null);
  assert.equal(feed.pending, true);
  feed.close();
  assert.deepEqual(a.chunks, ["*** x\n"]);
  assert.equal(feed.pending, false);
});
