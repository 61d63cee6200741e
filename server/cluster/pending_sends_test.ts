import assert from "node:assert/strict";
import { PendingSends } from "./pending_sends.ts";
import { DeliveryCursor } from "./delivery_cursor.ts";

Deno.test("a send whose copy comes back confirms its sender once", () => {
  const sends = new PendingSends<string>();
  const token = sends.add("ann", "r1");
  sends.stored(token, 5, { behind: false, newest: 4 });
  assert.deepEqual(sends.delivered(token), {
    session: "ann",
    ref: "r1",
    id: 5,
  });
  assert.equal(sends.delivered(token), undefined);
  assert.equal(sends.size, 0);
});

Deno.test("a send stored after its copy came back live is not kept", () => {
  const sends = new PendingSends<string>();
  const token = sends.add("ann", undefined);
  sends.delivered(token);
  sends.stored(token, 5, { behind: false, newest: 5 });
  assert.equal(sends.size, 0);
});

Deno.test("a send skipped by a catch-up is forgotten, its id known before or after the catch-up ends", () => {
  // The sender left its room while the subscription was down: the
  // catch-up does not read that room, so neither copy ever comes back.
  const cursor = new DeliveryCursor();
  cursor.start(10);
  const sends = new PendingSends<string>();
  const early = sends.add("ann", "a");
  const late = sends.add("bob", "b");
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
  const sends = new PendingSends<string>();
  const token = sends.add("ann", undefined);
  sends.stored(token, 9, { behind: false, newest: 8 });
  assert.equal(sends.size, 1);
  sends.stored(sends.add("bob", undefined), 9, { behind: true, newest: 20 });
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
