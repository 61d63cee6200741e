import assert from "node:assert/strict";
import {
  AcceptedOrder,
  type BatchMember,
  type MemberFeed,
  RoomBatch,
} from "./room_batch.ts";
import { type Codec, EncodedEvent } from "../protocol.ts";

const decoder = new TextDecoder();

/** A member that records every chunk it is sent, decoded, and its pokes. */
class Member implements BatchMember {
  readonly feeds: MemberFeed<this>[] = [];
  readonly chunks: string[] = [];
  readonly raw: Uint8Array[] = [];
  pokes = 0;
  constructor(readonly codec: Codec = "text") {}
  sendBytes(bytes: Uint8Array): void {
    this.raw.push(bytes);
    this.chunks.push(decoder.decode(bytes));
  }
  poke(): void {
    this.pokes++;
  }
}

function notice(text: string): EncodedEvent {
  return new EncodedEvent({ type: "notice", text });
}

function batchOf(members: Set<Member>) {
  let extra = 0;
  const batch = new RoomBatch<Member>({
    members: () => members,
    pulled: (lines) => extra += lines,
  });
  return { batch, extra: () => extra };
}

Deno.test("RoomBatch gives each member everything since its last pull as one chunk", () => {
  const a = new Member();
  const b = new Member("json");
  const { batch, extra } = batchOf(new Set([a, b]));
  batch.add(notice("one"), batch.accept(), null);
  batch.add(notice("two"), batch.accept(), null);
  assert.equal(a.chunks.length, 0, "nothing is queued until pulled");
  batch.pullFor(a);
  assert.deepEqual(a.chunks, ["*** one\n*** two\n"]);
  batch.add(notice("three"), batch.accept(), null);
  batch.pullFor(a);
  batch.pullFor(b);
  assert.deepEqual(a.chunks, ["*** one\n*** two\n", "*** three\n"]);
  assert.equal(b.chunks.length, 1);
  assert.match(
    b.chunks[0]!,
    /^\{"type":"notice","text":"one"\}\n\{.*"two".*\n.*"three"/,
  );
  assert.equal(extra(), 3, "a's first chunk and b's carried lines beyond one");
  batch.pullFor(a);
  assert.equal(
    a.chunks.length,
    2,
    "a second pull with nothing new sends nothing",
  );
});

Deno.test("RoomBatch wakes an idle member once, at the next event", () => {
  const a = new Member();
  const b = new Member();
  const { batch } = batchOf(new Set([a, b]));
  batch.add(notice("one"), batch.accept(), null);
  assert.equal(a.pokes, 1, "a new batch's members are all woken");
  assert.equal(b.pokes, 1);
  batch.add(notice("two"), batch.accept(), null);
  assert.equal(a.pokes, 1, "a member is woken once until it says it is idle");
  batch.pullFor(a);
  batch.idle(a);
  batch.idle(b); // b has not pulled: woken at once, not at the next event
  assert.equal(b.pokes, 2);
  batch.add(notice("three"), batch.accept(), null);
  assert.equal(a.pokes, 2);
  assert.equal(b.pokes, 2);
});

Deno.test("RoomBatch shares one chunk among members pulling the same events", () => {
  const members = new Set([new Member(), new Member(), new Member("json")]);
  const { batch } = batchOf(members);
  batch.add(notice("one"), batch.accept(), null);
  batch.add(notice("two"), batch.accept(), null);
  batch.flush();
  const [x, y, z] = [...members];
  assert.equal(x!.raw[0], y!.raw[0], "the very same bytes");
  assert.notEqual(x!.raw[0], z!.raw[0], "another codec, another chunk");
});

Deno.test("RoomBatch drops from its log what every member has pulled", () => {
  const fast = new Member();
  const slow = new Member();
  const { batch } = batchOf(new Set([fast, slow]));
  for (let i = 0; i < 1000; i++) {
    batch.add(notice(`m${i}`), batch.accept(), null);
    batch.pullFor(fast);
  }
  assert.equal(batch.logged, 1000, "the slow member still needs them all");
  batch.pullFor(slow);
  assert.equal(slow.chunks[0]!.split("\n").length, 1001);
  for (let i = 0; i < 600; i++) {
    batch.add(notice(`n${i}`), batch.accept(), null);
    batch.pullFor(fast);
    batch.pullFor(slow);
  }
  assert.ok(batch.logged < 600, `trimmed to ${batch.logged}`);
  batch.leaving(slow);
  assert.equal(slow.chunks.length, 601, "a leaver pulls what it had left");
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
  members.add(joiner);
  batch.add(notice("before the join"), waiting, null);
  batch.add(notice("after the join"), batch.accept(), null);
  assert.equal(joiner.pokes, 1, "a joiner is woken by the next event");
  batch.flush();
  assert.deepEqual(joiner.chunks, ["*** after the join\n"]);
  assert.deepEqual(old.chunks, [
    "*** held\n*** before the join\n*** after the join\n",
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

Deno.test("RoomBatch sends what is logged when closed, and then nothing", () => {
  const a = new Member();
  const { batch } = batchOf(new Set([a]));
  batch.add(notice("x"), batch.accept(), null);
  batch.close();
  assert.deepEqual(a.chunks, ["*** x\n"]);
  assert.equal(batch.logged, 0);
  batch.pullFor(a);
  assert.equal(batch.hasFor(a), false);
  assert.deepEqual(a.chunks, ["*** x\n"]);
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

Deno.test("RoomBatch is in a member's feeds exactly while the member has a cursor", () => {
  const early = new Member();
  const { batch } = batchOf(new Set([early]));
  assert.deepEqual(early.feeds, [batch]);
  const joiner = new Member();
  batch.joining(joiner);
  batch.joining(joiner);
  assert.deepEqual(joiner.feeds, [batch], "listed once");
  batch.leaving(joiner);
  assert.deepEqual(joiner.feeds, []);
  batch.close();
  assert.deepEqual(early.feeds, []);
});

Deno.test("RoomBatch wakes a member that pulled less than its spacing ago only once the spacing has passed", async () => {
  let now = 1000;
  const a = new Member();
  let woken: () => void = () => {};
  a.poke = () => {
    a.pokes++;
    woken();
  };
  const batch = new RoomBatch<Member>({
    members: () => [a],
    spacingMs: () => 5,
    now: () => now,
  });
  batch.add(notice("one"), batch.accept(), null);
  assert.equal(batch.dueFor(a), true, "never pulled: due at once");
  batch.pullFor(a);
  batch.add(notice("two"), batch.accept(), null);
  now += 1;
  assert.equal(batch.dueFor(a), false, "pulled 1 ms ago");
  const pokes = a.pokes;
  const poked = new Promise<void>((resolve) => woken = resolve);
  batch.idle(a);
  assert.equal(a.pokes, pokes, "not woken before its spacing has passed");
  now += 4;
  await poked;
  assert.equal(a.pokes, pokes + 1, "woken by the batch's timer");
  assert.deepEqual(a.chunks, ["*** one\n"], "woken, not yet pulled");
  assert.equal(batch.dueFor(a), true);
  // Its write waits its turn; what arrives meanwhile goes with it.
  batch.add(notice("three"), batch.accept(), null);
  batch.pullDue(a);
  assert.deepEqual(a.chunks, ["*** one\n", "*** two\n*** three\n"]);
  batch.add(notice("four"), batch.accept(), null);
  now += 1;
  batch.pullDue(a);
  assert.equal(a.chunks.length, 2, "not due: pulled 1 ms ago");
  now += 5;
  batch.pullDue(a);
  assert.deepEqual(a.chunks.at(-1), "*** four\n");
  batch.close();
});

Deno.test("RoomBatch: a member of two rooms pulls both merged in accepted order, a run per chunk", () => {
  const a = new Member();
  const b = new Member("json");
  const order = new AcceptedOrder();
  const members = new Set([a, b]);
  const lobby = new RoomBatch<Member>({ members: () => members, order });
  const dev = new RoomBatch<Member>({ members: () => members, order });
  lobby.add(notice("1"), lobby.accept(), null);
  lobby.add(notice("2"), lobby.accept(), null);
  dev.add(notice("3"), dev.accept(), null);
  lobby.add(notice("4"), lobby.accept(), null);
  dev.add(notice("5"), dev.accept(), b, notice("5 (yours)"));
  dev.pullFor(a);
  assert.deepEqual(a.chunks, [
    "*** 1\n*** 2\n",
    "*** 3\n",
    "*** 4\n",
    "*** 5\n",
  ]);
  lobby.pullDue(b);
  assert.deepEqual(
    b.chunks.flatMap((chunk) => chunk.trim().split("\n"))
      .map((line) => JSON.parse(line).text),
    ["1", "2", "3", "4", "5 (yours)"],
  );
  lobby.add(notice("6"), lobby.accept(), null);
  dev.pullFor(a);
  assert.equal(a.chunks.at(-1), "*** 6\n", "one room's events alone");
});

Deno.test("RoomBatch: a member that leaves gets what was accepted before, once added, and nothing after", () => {
  const a = new Member("json");
  const b = new Member();
  const members = new Set([a, b]);
  const { batch } = batchOf(members);
  const said = batch.accept();
  const lost = batch.accept(); // never added: its commit failed
  members.delete(a);
  batch.leaving(a);
  const after = batch.accept();
  batch.add(notice("before"), said, a, notice("before (yours)"));
  assert.deepEqual(
    a.chunks.map((chunk) => JSON.parse(chunk).text),
    ["before (yours)"],
  );
  batch.add(notice("after"), after, null);
  batch.pullFor(a);
  assert.equal(a.chunks.length, 1, "nothing accepted after it left");
  assert.equal(batch.hasFor(a), false);
  batch.pullFor(b);
  assert.deepEqual(b.chunks, ["*** before\n*** after\n"]);
  assert.equal(a.feeds.length, 0, "forgotten once past what it waited for");
  assert.ok(lost < after);
});

Deno.test("RoomBatch: closed while a member that left waits for its own event, it still gives it, then forgets the member", () => {
  const a = new Member("json");
  const members = new Set([a]);
  const { batch } = batchOf(members);
  const said = batch.accept(); // waiting for the history's commit
  batch.leaving(a);
  members.delete(a);
  batch.close(); // the room is empty: it goes
  assert.equal(a.feeds.length, 1, "kept for what it waits for");
  batch.add(notice("mine"), said, a, notice("mine (yours)"));
  assert.deepEqual(
    a.chunks.map((chunk) => JSON.parse(chunk).text),
    ["mine (yours)"],
  );
  assert.equal(a.feeds.length, 0, "forgotten once it has it");
  assert.equal(batch.hasFor(a), false);
});

Deno.test("RoomBatch reads the clock once for a member whose spacing passed long ago: when it pulls", () => {
  let now = 1000;
  let reads = 0;
  const members = [new Member(), new Member()];
  const batch = new RoomBatch<Member>({
    members: () => members,
    spacingMs: () => 5,
    now: () => {
      reads++;
      return now;
    },
  });
  batch.add(notice("one"), batch.accept(), null);
  for (const member of members) batch.pullDue(member);
  now += 50;
  batch.add(notice("two"), batch.accept(), null);
  // One member's pull reads the clock; the next member, due by that reading,
  // is checked against it: a write's "due?", "due?" and "pull" read it once.
  batch.pullDue(members[0]!);
  reads = 0;
  const [, second] = members;
  assert.equal(batch.dueFor(second!), true);
  assert.equal(batch.dueFor(second!), true);
  batch.pullDue(second!);
  assert.equal(reads, 1, "read once, for the time of the pull");
  assert.deepEqual(second!.chunks, ["*** one\n", "*** two\n"]);
  // A member not yet due by the last reading reads the clock: it may be due.
  now += 1;
  batch.add(notice("three"), batch.accept(), null);
  reads = 0;
  assert.equal(batch.dueFor(second!), false, "pulled 1 ms ago");
  assert.equal(reads, 1);
  batch.close();
});
