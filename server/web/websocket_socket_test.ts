import assert from "node:assert/strict";
import { OP_PING, OP_PONG } from "./ws_frames.ts";
import { WebSocketSocket } from "./websocket_socket.ts";

/** A masked client ping (zero mask: the payload goes as it is). */
function ping(payload: Uint8Array): Uint8Array {
  return new Uint8Array([
    0x80 | OP_PING,
    0x80 | payload.length,
    0,
    0,
    0,
    0,
    ...payload,
  ]);
}

/**
 * A connection whose peer sends `input` and then nothing, and reads nothing
 * until told: each write waits until {@linkcode release} is called.
 */
class StuckPeer {
  readonly writes: Uint8Array[] = [];
  #input: Uint8Array[];
  #held: Array<() => void> = [];
  #end: (() => void) | null = null;
  closed = false;

  constructor(input: Uint8Array[]) {
    this.#input = input;
  }

  read(buffer: Uint8Array): Promise<number | null> {
    const next = this.#input.shift();
    if (next === undefined) {
      return new Promise((resolve) => this.#end = () => resolve(null));
    }
    buffer.set(next);
    return Promise.resolve(next.length);
  }

  write(bytes: Uint8Array): Promise<number> {
    this.writes.push(bytes.slice());
    return new Promise((resolve) =>
      this.#held.push(() => resolve(bytes.length))
    );
  }

  /** Lets every write waiting so far complete. */
  release(): void {
    for (const done of this.#held.splice(0)) done();
  }

  close(): void {
    this.closed = true;
    this.#end?.();
    this.release();
  }
}

function frames(
  bytes: Uint8Array[],
): Array<{ opcode: number; payload: number[] }> {
  return bytes.map((frame) => ({
    opcode: frame[0]! & 0x0f,
    payload: [...frame.subarray(2, 2 + (frame[1]! & 0x7f))],
  }));
}

Deno.test("WebSocketSocket: pings from a peer that reads nothing leave one pong waiting, the latest", async () => {
  const count = 10_000;
  const input: Uint8Array[] = [];
  // Each read carries many pings, as a flood does.
  for (let i = 0; i < count; i += 100) {
    const chunk: Uint8Array[] = [];
    for (let j = i; j < i + 100; j++) {
      chunk.push(ping(new Uint8Array([j >> 8, j & 0xff])));
    }
    input.push(new Uint8Array(chunk.flatMap((frame) => [...frame])));
  }
  const peer = new StuckPeer(input);
  const socket = new WebSocketSocket(peer as unknown as Deno.Conn, 4096);
  const reading = socket.read(new Uint8Array(0), () => {});
  // Every ping is read while the first pong's write is stuck.
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(peer.writes.length, 1, "one pong is being written");
  assert.equal(frames(peer.writes)[0]!.opcode, OP_PONG);
  peer.release();
  await new Promise((resolve) => setTimeout(resolve, 0));
  // The pongs that waited are one, answering the last ping (RFC 6455
  // section 5.5.3 allows it); not 9,999 frames held in memory.
  assert.deepEqual(frames(peer.writes.slice(1)), [{
    opcode: OP_PONG,
    payload: [(count - 1) >> 8, (count - 1) & 0xff],
  }]);
  peer.release();
  socket.close();
  await new Promise((resolve) => setTimeout(resolve, 0));
  peer.release();
  await reading;
  assert.ok(peer.closed);
});
