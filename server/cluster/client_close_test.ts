import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { closeClient } from "./client_close.ts";

/** A node-redis client stand-in whose loop the test drives. */
class FakeClient extends EventEmitter {
  isOpen = true;
  isReady = false;
  calls: string[] = [];
  close(): Promise<void> {
    this.calls.push("close");
    this.isOpen = this.isReady = false;
    return Promise.resolve();
  }
  destroy(): void {
    this.calls.push("destroy");
    this.isOpen = this.isReady = false;
  }
}

/** Lets pending callbacks run, so a wrong early return would show. */
async function turns(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

Deno.test("closeClient: a ready client is quit politely", async () => {
  const client = new FakeClient();
  client.isReady = true;
  await closeClient(client);
  assert.deepEqual(client.calls, ["close"]);
});

Deno.test("closeClient: a client asleep between reconnects is closed only once its loop has ended", async () => {
  const client = new FakeClient();
  let finished = false;
  const closing = closeClient(client).then(() => finished = true);
  await turns();
  assert.equal(finished, false, "the sleep is still under way");
  client.emit("reconnecting"); // the sleep ends, one last attempt starts
  await turns();
  assert.equal(finished, false, "the last attempt is still under way");
  client.isOpen = false; // the strategy refused a retry
  client.emit("error", new Error("connection refused"));
  await closing;
  assert.deepEqual(client.calls, [], "nothing left to close");
  assert.equal(client.listenerCount("reconnecting"), 0);
  assert.equal(client.listenerCount("ready"), 0);
});

Deno.test("closeClient: an attempt that connects while closing is quit, not left open", async () => {
  const client = new FakeClient();
  const closing = closeClient(client);
  await turns();
  client.isReady = true;
  client.emit("ready");
  await closing;
  assert.deepEqual(client.calls, ["close"]);
});
