import assert from "node:assert/strict";
import {
  accountHolder,
  changedHandsMessage,
  localHolder,
  PrivatePeers,
  remoteHolder,
} from "./private_peers.ts";

Deno.test("private peers: a new holder is flagged once, then accepted", () => {
  const peers = new PrivatePeers();
  assert.equal(peers.changedHands("bob", localHolder(1)), false);
  assert.equal(peers.changedHands("BOB", localHolder(1)), false);
  assert.equal(peers.changedHands("bob", localHolder(2)), true);
  assert.equal(peers.changedHands("bob", localHolder(2)), false);
});

Deno.test("private peers: an account is the same person on any connection", () => {
  const peers = new PrivatePeers();
  peers.remember("bob", accountHolder(7));
  assert.equal(peers.changedHands("bob", accountHolder(7)), false);
  assert.equal(peers.changedHands("bob", remoteHolder("n2", 1)), true);
  assert.notEqual(localHolder(3), remoteHolder("here", 3));
});

Deno.test("private peers: bounded, the least recently used forgotten", () => {
  const peers = new PrivatePeers(2);
  peers.remember("a", localHolder(1));
  peers.remember("b", localHolder(2));
  peers.remember("a", localHolder(1));
  peers.remember("c", localHolder(3));
  assert.equal(peers.size, 2);
  // a is still known; b was forgotten, so a new holder of b is not flagged.
  assert.equal(peers.changedHands("a", localHolder(9)), true);
  assert.equal(peers.changedHands("b", localHolder(9)), false);
});

Deno.test("private peers: the warning says since when and what sending again does", () => {
  const text = changedHandsMessage("bob", Date.UTC(2026, 0, 2, 3, 4));
  assert.match(text, /^Not sent: bob is now someone else/);
  assert.match(text, /since 2026-01-02 03:04 UTC/);
  assert.match(text, /send again to write to the new bob$/);
});
