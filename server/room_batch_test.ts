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
  const batch = new RoomBatch<Member>({
    members: () => members,
    holdMs: () => holdMs,
    flushed: (lines) => extra += lines,
  });
  return { batch, extra: () => extra };
}

Deno.test("RoomBatch sends a turn's events to each member as one chunk", async () => {
  const a = new Member();
  const b = new Member("json");
  const { batch, extra } = batchOf(new Set([a, b]));
  batch.add(notice("one"), batch.accept(), null);
  batch.add(notice("two"), batch.accept(), null);
  assert.equal(a.chunks.length, 0, "held until the end of the turn");
  await Promise.resolve();
  assert.deepEqual(a.chunks, ["*** one\n*** two\n"]);
  assert.equal(b.chunks.length, 1);
  assert.match(b.chunks[0]!, /^\{"type":"notice","text":"one"\}\n\{.*"two"/);
  assert.equal(extra(), 2, "two writes carried one line more than counted");
  assert.equal(batch.pending, false);
});

Deno.test("RoomBatch leaves out a text sender's own line, not a JSON one's", () => {
  const text = new Member();
  const json = new Member("json");
  const other = new Member();
  const { batch } = batchOf(new Set([text, json, other]));
  batch.add(notice("from text"), batch.accept(), text);
  batch.add(notice("from json"), batch.accept(), json);
  batch.flush();
  assert.deepEqual(text.chunks, ["*** from json\n"]);
  assert.equal(json.chunks.length, 1);
  assert.match(json.chunks[0]!, /from text.*\n.*from json/);
  assert.deepEqual(other.chunks, ["*** from text\n*** from json\n"]);
});

Deno.test("RoomBatch gives a joiner nothing accepted before it joined", () => {
  const old = new Member();
  const members = new Set([old]);
  const { batch } = batchOf(members);
  batch.add(notice("held"), batch.accept(), null);
  // Accepted, but still waiting (for the history's commit) when c joins.
  const waiting = batch.accept();
  const joiner = new Member();
  batch.joining(joiner);
  assert.deepEqual(old.chunks, ["*** held\n"], "joining flushed first");
  members.add(joiner);
  batch.add(notice("before the join"), waiting, null);
  batch.add(notice("after the join"), batch.accept(), null);
  batch.flush();
  assert.deepEqual(joiner.chunks, ["*** after the join\n"]);
  assert.deepEqual(old.chunks.slice(1), [
    "*** before the join\n*** after the join\n",
  ]);
  batch.add(notice("later"), batch.accept(), null);
  batch.flush();
  assert.deepEqual(joiner.chunks.at(-1), "*** later\n");
});

Deno.test("RoomBatch keeps no joiner or leaver it need not", () => {
  const members = new Set<Member>();
  const { batch } = batchOf(members);
  const early = new Member();
  batch.joining(early); // nothing accepted: nothing to leave out
  members.add(early);
  const waiting = batch.accept();
  const late = new Member();
  batch.joining(late);
  members.add(late);
  batch.leaving(late);
  members.delete(late);
  batch.add(notice("sent before the joins"), waiting, null);
  batch.flush();
  assert.deepEqual(early.chunks, ["*** sent before the joins\n"]);
  assert.deepEqual(late.chunks, []);
});

Deno.test("RoomBatch holds for its hold time, and close sends at once", () => {
  const a = new Member();
  const { batch } = batchOf(new Set([a]), 60_000);
  batch.add(notice("x"), batch.accept(), null);
  assert.equal(batch.pending, true);
  batch.close();
  assert.deepEqual(a.chunks, ["*** x\n"]);
  assert.equal(batch.pending, false);
});

Deno.test("RoomBatch gives a JSON sender its confirmation in its place in the order", () => {
  const sender = new Member("json");
  const otherJson = new Member("json");
  const otherText = new Member();
  const textSender = new Member();
  const { batch } = batchOf(
    new Set([sender, otherJson, otherText, textSender]),
  );
  batch.add(notice("before"), batch.accept(), null);
  batch.add(
    notice("mine"),
    batch.accept(),
    sender,
    new EncodedEvent({ type: "notice", text: "mine", ref: "r1" }),
  );
  batch.add(notice("theirs"), batch.accept(), textSender, notice("unused"));
  batch.add(notice("after"), batch.accept(), null);
  batch.flush();
  assert.deepEqual(sender.chunks, [
    '{"type":"notice","text":"before"}\n' +
    '{"type":"notice","text":"mine","ref":"r1"}\n' +
    '{"type":"notice","text":"theirs"}\n' +
    '{"type":"notice","text":"after"}\n',
  ]);
  assert.deepEqual(otherJson.chunks, [
    '{"type":"notice","text":"before"}\n' +
    '{"type":"notice","text":"mine"}\n' +
    '{"type":"notice","text":"theirs"}\n' +
    '{"type":"notice","text":"after"}\n',
  ], "nobody else sees the ref");
  assert.deepEqual(otherText.chunks, [
    "*** before\n*** mine\n*** theirs\n*** after\n",
  ]);
  assert.deepEqual(
    textSender.chunks,
    ["*** before\n*** mine\n*** after\n"],
    "a text sender still gets no copy of its own line",
  );
});

Deno.test("RoomBatch shares a JSON sender's chunk when its copy is the same", () => {
  const sender = new Member("json");
  const other = new Member("json");
  const { batch } = batchOf(new Set([sender, other]));
  const shared = notice("no ref");
  batch.add(shared, batch.accept(), sender, shared);
  batch.add(notice("none given"), batch.accept(), sender);
  batch.flush();
  assert.equal(sender.chunks.length, 1);
  assert.equal(
    sender.chunks[0],
    other.chunks[0],
    "the same bytes as everyone's",
  );
});

Deno.test("RoomBatch gives a late-joining JSON sender its confirmation and nothing from before", () => {
  const old = new Member("json");
  const members = new Set([old]);
  const { batch } = batchOf(members);
  // Accepted, but still waiting (for the history's commit) when it joins.
  const waiting = batch.accept();
  const joiner = new Member("json");
  batch.joining(joiner);
  members.add(joiner);
  batch.add(notice("before the join"), waiting, null);
  batch.add(
    notice("mine"),
    batch.accept(),
    joiner,
    new EncodedEvent({ type: "notice", text: "mine", ref: "j1" }),
  );
  batch.flush();
  assert.deepEqual(joiner.chunks, [
    '{"type":"notice","text":"mine","ref":"j1"}\n',
  ]);
  assert.deepEqual(old.chunks, [
    '{"type":"notice","text":"before the join"}\n' +
    '{"type":"notice","text":"mine"}\n',
  ]);
});
