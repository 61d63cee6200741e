import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type tls from "node:tls";
import { MAX_UNREAD_INPUT, NodeTlsConnection } from "./tls_listener.ts";

/** Enough of a TLS socket for the adapter: events, pause, destroy. */
class StandInSocket extends EventEmitter {
  remoteAddress = "192.0.2.1";
  paused = false;
  destroyed = false;
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  destroy(): void {
    this.destroyed = true;
  }
}

function adapter(reads: { readStop(): void; readStart(): void } | null) {
  const socket = new StandInSocket();
  const conn = new NodeTlsConnection(
    socket as unknown as tls.TLSSocket,
    reads,
  );
  return { socket, conn };
}

Deno.test("NodeTlsConnection: past its read-ahead it stops the socket's reads, and starts them once drained", async () => {
  const calls: string[] = [];
  const { socket, conn } = adapter({
    readStop: () => calls.push("stop"),
    readStart: () => calls.push("start"),
  });
  for (let i = 0; i < 40; i++) socket.emit("data", new Uint8Array(4096));
  assert.deepEqual(calls, ["stop"], "stopped once, however much more came");
  assert.ok(socket.paused);
  const buffer = new Uint8Array(4096);
  let read = 0;
  while (calls.length === 1) read += (await conn.read(buffer))!;
  assert.deepEqual(calls, ["stop", "start"]);
  assert.ok(!socket.paused);
  assert.ok(read >= 80 * 1024, `started after draining, at ${read} bytes`);
  conn.close();
});

Deno.test("NodeTlsConnection: where reads cannot be stopped, a peer past the unread cap is dropped", async () => {
  const { socket, conn } = adapter(null);
  const chunk = new Uint8Array(64 * 1024);
  for (let sent = 0; sent <= MAX_UNREAD_INPUT; sent += chunk.length) {
    assert.ok(!socket.destroyed);
    socket.emit("data", chunk);
  }
  assert.ok(socket.destroyed, "dropped instead of held");
  await assert.rejects(
    conn.read(new Uint8Array(16)),
    Deno.errors.ConnectionReset,
  );
  conn.close();
});
