import assert from "node:assert/strict";
import { encodeJsonRequest } from "../protocol.ts";
import { splitLongRequest } from "./long_lines.ts";

const bytes = (text: string) => new TextEncoder().encode(text).length;
const lineBytes = (request: Parameters<typeof encodeJsonRequest>[0]) =>
  bytes(encodeJsonRequest(request)) - 1;

Deno.test("splitLongRequest leaves a line that fits alone", () => {
  const request = { type: "message", text: "hi", room: "#lobby" } as const;
  assert.deepEqual(splitLongRequest(request, 100), [request]);
});

Deno.test("splitLongRequest cuts between words, each piece within the limit", () => {
  const text = Array.from({ length: 50 }, (_, i) => `w${i}`).join(" ");
  const request = { type: "message", text, room: "#dev" } as const;
  const parts = splitLongRequest(request, 80);
  assert.ok(parts.length > 1);
  for (const part of parts) {
    assert.ok(lineBytes(part) <= 80, JSON.stringify(part));
    assert.equal(part.type, "message");
    assert.equal((part as { room: string }).room, "#dev");
  }
  assert.equal(parts.map((p) => (p as { text: string }).text).join(" "), text);
});

Deno.test("splitLongRequest counts JSON escapes and never cuts a character in two", () => {
  const text = '"\\'.repeat(30) + "👨‍👩‍👧".repeat(10) + "é".repeat(20);
  const request = { type: "private", to: "bob", text } as const;
  const parts = splitLongRequest(request, 70);
  for (const part of parts) {
    assert.ok(lineBytes(part) <= 70, JSON.stringify(part));
    const piece = (part as { text: string }).text;
    assert.ok(!piece.startsWith("\u200d"), JSON.stringify(piece));
  }
  assert.equal(parts.map((p) => (p as { text: string }).text).join(""), text);
});

Deno.test("splitLongRequest leaves requests it cannot cut alone", () => {
  const topic = { type: "topic", text: "x".repeat(500) } as const;
  assert.deepEqual(splitLongRequest(topic, 100), [topic]);
});
