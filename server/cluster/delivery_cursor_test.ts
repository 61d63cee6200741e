import assert from "node:assert/strict";
import { DeliveryCursor } from "./delivery_cursor.ts";
import type { Relay } from "./relay.ts";

function relay(id: number, room = "#lobby"): Relay {
  return {
    id,
    node: "n",
    token: id,
    message: { type: "message", id, ts: 0, room, from: "ana", text: `${id}` },
  };
}

const ids = (relays: Relay[]) => relays.map((r) => r.id);

Deno.test("a cursor starts behind and takes Redis's counter as history", () => {
  const cursor = new DeliveryCursor();
  assert.equal(cursor.behind, true);
  assert.equal(cursor.live(relay(4)), "held");
  assert.equal(cursor.live(relay(6)), "held");
  assert.deepEqual(ids(cursor.start(5)), [6]);
  assert.equal(cursor.behind, false);
  assert.equal(cursor.newest, 6);
  assert.equal(cursor.live(relay(6)), "duplicate");
  assert.equal(cursor.live(relay(7)), "deliver");
  assert.equal(cursor.shown("#lobby"), 7);
});

Deno.test("after a lost subscription each room gets every message once, in order", () => {
  const cursor = new DeliveryCursor();
  cursor.start(10);
  cursor.lost();
  // Published while cut off: 11 (#a), 12 (#b), 13 (#a). Back: 13 arrives
  // live as well as in the read, then 14 (#b) and 15 (#a) only live.
  assert.equal(cursor.live(relay(13, "#a")), "held");
  assert.equal(cursor.live(relay(14, "#b")), "held");
  assert.equal(cursor.from("#a"), 10);
  assert.deepEqual(
    ids(cursor.caughtUp("#a", [relay(11, "#a"), relay(13, "#a")])),
    [11, 13],
  );
  assert.equal(cursor.shown("#a"), 13);
  assert.equal(cursor.live(relay(15, "#a")), "held");
  assert.equal(cursor.caught("#A"), true, "rooms by fold key");
  assert.equal(cursor.caught("#b"), false);
  assert.deepEqual(ids(cursor.caughtUp("#b", [relay(12, "#b")])), [12]);
  assert.deepEqual(ids(cursor.finish()), [14, 15]);
  assert.equal(cursor.newest, 15);
  assert.equal(cursor.behind, false);
  assert.equal(cursor.live(relay(15, "#a")), "duplicate");
});

Deno.test("a room caught up over pages starts each page after the last", () => {
  const cursor = new DeliveryCursor();
  cursor.start(0);
  cursor.lost();
  assert.deepEqual(ids(cursor.caughtUp("#a", [relay(1), relay(2)])), [1, 2]);
  assert.equal(cursor.from("#a"), 2);
  // A page overlapping the last is cut to what is new.
  assert.deepEqual(
    ids(cursor.caughtUp("#a", [relay(2), relay(3)])),
    [3],
  );
  assert.deepEqual(ids(cursor.caughtUp("#a", [])), []);
  assert.equal(cursor.from("#a"), 3);
});

Deno.test("too many held while behind: dropped, and every room read again", () => {
  const cursor = new DeliveryCursor(2);
  cursor.start(0);
  cursor.lost();
  cursor.caughtUp("#a", [relay(1)]);
  assert.equal(cursor.live(relay(2)), "held");
  assert.equal(cursor.live(relay(3)), "held");
  assert.equal(cursor.live(relay(4)), "overflow");
  assert.equal(cursor.caught("#a"), false, "read again");
  assert.equal(cursor.from("#a"), 1, "past what it delivered");
  assert.deepEqual(
    ids(cursor.caughtUp("#a", [relay(1), relay(2), relay(3), relay(4)])),
    [2, 3, 4],
  );
  assert.deepEqual(ids(cursor.finish()), []);
});
