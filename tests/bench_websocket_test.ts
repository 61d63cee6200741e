/**
 * The load generator's WebSocket side: its frames against the server's own
 * frame reader and writer, and a short closed-loop run of its clients
 * against a real tern over `/ws`.
 */

import assert from "node:assert/strict";
import { Deframer, maskedTextFrames } from "../bench/ws_client_frames.ts";
import { FrameReader, textFramesOfLines } from "../server/web/ws_frames.ts";
import { BenchClient, Meter, WindowedLoad } from "../bench/loadgen.ts";
import { TERN_WEBSOCKET_PROTOCOL } from "../bench/websocket_scenario.ts";
import { ChatServer } from "../server.ts";
import { within } from "./helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

Deno.test("bench websocket: the generator's frames are what the server reads, and back", () => {
  const lines = ['{"type":"message","text":"a"}', "é".repeat(100), "{}"];
  const reader = new FrameReader(4096);
  const read = reader.push(maskedTextFrames(lines.join("\n") + "\n"));
  assert.deepEqual(read, lines.map((text) => ({ kind: "text", text })));

  const framed = textFramesOfLines(encoder.encode(lines.join("\n") + "\n"));
  const deframer = new Deframer();
  let out = "";
  // Byte by byte: frames cut anywhere come back whole.
  for (const byte of framed) {
    out += decoder.decode(deframer.push(new Uint8Array([byte])));
  }
  assert.equal(out, lines.join("\n") + "\n");
  deframer.push(new Uint8Array([0x88, 0x02, 0x03, 0xe8]));
  assert.equal(deframer.closed, true);
});

Deno.test("bench websocket: clients log in over /ws and a windowed load is delivered to all", async () => {
  const server = new ChatServer({
    hostname: "127.0.0.1",
    port: 0,
    web: { port: 0 },
    limits: { floodRate: 0, maxPerAddress: 0, closeGraceMs: 200 },
  });
  const addresses = await server.start();
  const meter = new Meter();
  const clients: BenchClient[] = [];
  try {
    for (let i = 0; i < 4; i++) {
      const client = new BenchClient({
        port: addresses.http!.port,
        protocol: TERN_WEBSOCKET_PROTOCOL,
        meter,
        nick: `c${i}`,
        login: { room: null, privileged: false },
        readBufferBytes: 65536,
        payloadBytes: 64,
      });
      await client.start(5000);
      clients.push(client);
    }
    const sender = clients[0]!;
    sender.senderId = 0;
    clients[1]!.observer = true;
    for (const client of clients) client.lastSeq = new Int32Array(1);
    meter.begin();
    const load = new WindowedLoad({
      senders: [sender],
      protocol: TERN_WEBSOCKET_PROTOCOL,
      meter,
      payloadBytes: 64,
    }, 4);
    load.start();
    // The load's own hook opens the window; this one also counts.
    const openWindow = meter.onObserved!;
    const observer = clients[1]!;
    await within(
      new Promise<void>((resolve) => {
        meter.onObserved = (id) => {
          openWindow(id);
          if (observer.received >= 50) resolve();
        };
      }),
      "50 messages to reach the observer",
    );
    load.stop();
    assert.equal(meter.garbled, 0);
    assert.equal(meter.outOfOrder, 0);
    assert.ok(clients.every((client) => client.live));
    assert.ok(clients.slice(2).every((client) => client.received > 0));
  } finally {
    for (const client of clients) client.close();
    await server.close();
  }
});
