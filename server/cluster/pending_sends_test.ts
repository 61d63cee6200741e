import assert from "node:assert/strict";
import { PendingSends } from "./pending_sends.ts";
import { DeliveryCursor } from "./delivery_cursor.ts";

Deno.test("a send whose copy comes back confirms its sender once", () => {
  const sends = new PendingSends<string>(60_000);
  const token = sends.add("ann", "r1", 0);
  sends.stored(token, 5, { behind: false, newest: 4 });
  assert.deepEqual(sends.delivered(token), {
    session: "ann",
    ref: "r1",
    id: 5,
    sentAt: 0,
  });
  assert.equal(sends.delivered(token), undefined);
  assert.equal(sends.size, 0);
});

Deno.test("a send stored after its copy came back live is not kept", () => {
  const sends = new PendingSends<string>(60_000);
  const token = sends.add("ann", undefined, 0);
  sends.delivered(token);
  sends.stored(token, 5, { behind: false, newest: 5 });
  assert.equal(sends.size, 0);
});

Deno.test("a send skipped by a catch-up is forgotten, its id known before or after the catch-up ends", () => {
  // The sender left its room while the subscription was down: the
  // catch-up does not read that room, so neither copy ever comes back.
  const cursor = new DeliveryCursor();
  cursor.start(10);
  const sends = new PendingSends<string>(60_000);
  const early = sends.add("ann", "a", 0);
  const late = sends.add("bob", "b", 0);
  cursor.lost();
  sends.stored(early, 11, cursor);
  assert.equal(sends.size, 2, "kept while behind: its copy may come");
  cursor.caughtUp("elsewhere", []);
  cursor.live({ id: 13, node: "n", token: 0, message: message(13) });
  cursor.finish();
  sends.caughtUp(cursor.newest);
  assert.equal(sends.size, 1, "the one with an id is forgotten at the end");
  // Redis answers the other after the catch-up ended.
  sends.stored(late, 12, cursor);
  assert.equal(sends.size, 0, "and the other when its id is known");
});

Deno.test("a send stored ahead of live delivery waits for its copy", () => {
  const sends = new PendingSends<string>(60_000);
  const token = sends.add("ann", undefined, 0);
  sends.stored(token, 9, { behind: false, newest: 8 });
  assert.equal(sends.size, 1);
  sends.stored(sends.add("bob", undefined, 0), 9, { behind: true, newest: 20 });
  assert.equal(sends.size, 2, "behind: the catch-up's end decides");
});

function message(id: number) {
  return {
    type: "message" as const,
    id,
    ts: 0,
    room: "lobby",
    from: "carl",
    text: "hi",
  };
}

Deno.test("a send whose copy is lost with no catch-up to skip it is forgotten after keepMs, oldest first", () => {
  const sends = new PendingSends<string>(1000);
  const lost = sends.add("ann", "a", 0);
  // Stored while delivery is live but not yet past it: kept for its copy.
  sends.stored(lost, 5, { behind: false, newest: 4 });
  const recent = sends.add("bob", "b", 900);
  assert.equal(sends.size, 2, "both within keepMs");
  const next = sends.add("cy", "c", 1001);
  assert.equal(sends.size, 2, "the lost one went when the next send came");
  assert.equal(sends.delivered(lost), undefined);
  assert.deepEqual(sends.delivered(recent)?.session, "bob");
  assert.deepEqual(sends.delivered(next)?.session, "cy");
});

Deno.test("a send forgotten for its age is told so once, with its id if Redis gave one", () => {
  const sends = new PendingSends<string>(1000);
  const told: Array<[string, number | undefined]> = [];
  const stored = sends.add("ann", "a", 0, {
    forgotten: (id) => told.push(["ann", id]),
  });
  sends.stored(stored, 5, { behind: false, newest: 4 });
  sends.add("bob", "b", 10, { forgotten: (id) => told.push(["bob", id]) });
  const copied = sends.add("cy", "c", 20, {
    forgotten: (id) => told.push(["cy", id]),
  });
  sends.delivered(copied);
  assert.equal(sends.nextExpiry, 1000);
  sends.expire(1005);
  assert.equal(sends.nextExpiry, 1010);
  sends.expire(2000);
  sends.expire(3000);
  assert.deepEqual(told, [["ann", 5], ["bob", undefined]]);
  assert.equal(sends.nextExpiry, undefined);
});
