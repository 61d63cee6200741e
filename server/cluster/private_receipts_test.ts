import assert from "node:assert/strict";
import {
  decodeReceipt,
  encodeReceipt,
  PrivateReceipts,
} from "./private_receipts.ts";
import { decodePrivate, encodePrivateDraft } from "./node_events.ts";

Deno.test("a receipt line reads back; a private message is none, a bad one malformed", () => {
  assert.deepEqual(decodeReceipt(encodeReceipt(7, "left")), {
    token: 7,
    outcome: "left",
  });
  assert.equal(decodeReceipt('12 n/3 {"type":"private"}'), null);
  assert.equal(decodeReceipt("receipt x delivered"), undefined);
  assert.equal(decodeReceipt("receipt 3 maybe"), undefined);
});

Deno.test("a private message's relay carries its sender's receipt token", () => {
  const draft = encodePrivateDraft(
    { type: "private", ts: 1, from: "ana", to: "bob", text: "hi" },
    { node: "n1", sid: 4, receipt: 9 },
  );
  const relay = decodePrivate(`5 n2/6 ${draft}`);
  assert.deepEqual(relay?.sender, { node: "n1", sid: 4, receipt: 9 });
});

Deno.test("receipts settle once; a gone node's are lost, the rest unknown on close", async () => {
  const receipts = new PrivateReceipts(60_000);
  const first = receipts.expect("n1");
  const second = receipts.expect("n2");
  const third = receipts.expect("n2");
  receipts.settle(first.token, "delivered");
  receipts.settle(first.token, "left");
  receipts.nodeGone("n2");
  const fourth = receipts.expect("n3");
  receipts.close();
  assert.deepEqual(
    await Promise.all(
      [first, second, third, fourth].map((r) => r.outcome),
    ),
    ["delivered", "lost", "lost", "unknown"],
  );
  assert.equal(receipts.size, 0);
});

Deno.test("a receipt never sent is unknown after the time kept", async () => {
  const receipts = new PrivateReceipts(5);
  assert.equal(await receipts.expect("n1").outcome, "unknown");
  assert.equal(receipts.size, 0);
});
