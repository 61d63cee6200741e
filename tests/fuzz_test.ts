/**
 * Fuzzing with a fixed seed (override with FUZZ_SEED=n): random bytes,
 * random chunkings, valid and invalid JSON, huge lines, NUL bytes, lone
 * surrogates and escape sequences, first against protocol.ts alone, then
 * against a live server that must keep answering a well-behaved client and
 * hold no leaked connection. A failure names the seed and iteration.
 */

import assert from "node:assert/strict";
import {
  decodeJsonRequest,
  decodeTextRequest,
  encodeJsonEvent,
  encodeTextEvent,
  LineFramer,
  sanitizeText,
} from "../protocol.ts";
import { checkNick, checkRoom } from "../wire/names.ts";
import { skeletonKey } from "../server/names/lookalikes.ts";
import { connectionsDropTo, LineClient, startServer } from "./helpers.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 20261124);

/** A small, fast, seedable generator (mulberry32). */
function generator(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  return { next, int, pick };
}
type Random = ReturnType<typeof generator>;

const encoder = new TextEncoder();

/** Pieces hostile input is made of. */
const FRAGMENTS = [
  "\n",
  "\r\n",
  "\r",
  "\0",
  "\x1b[2J",
  "\x1b]0;title\x07",
  "\x1b]52;c;ZXZpbA==\x1b\\",
  "\u009b31m",
  "\u202e",
  "\u200b",
  "\ud800",
  "\udfff",
  "é",
  "✓",
  "👩‍💻",
  "/",
  "//",
  "/nick ",
  "/join #",
  "/msg ",
  "/me ",
  "/quit",
  "/away ",
  "/who ",
  "/ban ",
  "/kick ",
  "/oper ",
  "{",
  "}",
  '"',
  "\\",
  "[]",
  "null",
  '{"type":"message","text":"',
  '{"type":"hello","nick":"',
  '{"type":"private","to":"',
  '{"type":"join","room":',
  '{"type":"__proto__"}',
  '{"__proto__":{"type":"hello"}}',
  "1e400",
  "GET / HTTP/1.1",
  "alice",
  "bob",
  " ",
  "x",
];

/** A random mix of hostile fragments, random bytes and long runs. */
function hostileBytes(random: Random): Uint8Array {
  const parts: Uint8Array[] = [];
  const count = 1 + random.int(30);
  for (let i = 0; i < count; i++) {
    const roll = random.next();
    if (roll < 0.6) {
      parts.push(encoder.encode(random.pick(FRAGMENTS)));
    } else if (roll < 0.85) {
      parts.push(
        Uint8Array.from({ length: 1 + random.int(16) }, () => random.int(256)),
      );
    } else if (roll < 0.97) {
      parts.push(
        encoder.encode(random.pick(["a", "é", "\x1b"]).repeat(random.int(600))),
      );
    } else {
      parts.push(new Uint8Array(5000 + random.int(5000)).fill(0x41));
    }
  }
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length;
  }
  return bytes;
}

/** Cuts bytes into random chunks, including empty ones and single bytes. */
function chunk(random: Random, bytes: Uint8Array): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let start = 0;
  while (start < bytes.length) {
    const size = random.next() < 0.3 ? random.int(3) : 1 + random.int(512);
    chunks.push(bytes.subarray(start, start + size));
    start += size;
  }
  return chunks;
}

/** Runs `body` for each iteration, naming seed and iteration on failure. */
async function iterate(
  count: number,
  seed: number,
  body: (random: Random, iteration: number) => void | Promise<void>,
): Promise<void> {
  const random = generator(seed);
  for (let i = 0; i < count; i++) {
    try {
      await body(random, i);
    } catch (error) {
      throw new Error(
        `Fuzz failure at iteration ${i} (FUZZ_SEED=${seed}): ${
          error instanceof Error ? error.stack : String(error)
        }`,
      );
    }
  }
}

Deno.test(`fuzz: protocol.ts holds its invariants on hostile input (seed ${SEED})`, async () => {
  const maxLine = 256;
  await iterate(5000, SEED, (random) => {
    const framer = new LineFramer(maxLine);
    const frames = [];
    for (const piece of chunk(random, hostileBytes(random))) {
      frames.push(...framer.push(piece));
      assert.ok(
        framer.bufferedBytes <= maxLine + 1,
        "framer holds one line at most",
      );
    }
    frames.push(...framer.end());
    for (const frame of frames) {
      if (frame.kind === "too_long") {
        assert.equal(frame.limit, maxLine);
        continue;
      }
      if (frame.kind === "telnet") continue;
      assert.ok(!frame.text.includes("\n"));
      assert.ok(encoder.encode(frame.text).length <= maxLine * 3);
      const clean = sanitizeText(frame.text);
      assert.ok(
        !/\p{Cc}/u.test(clean),
        `control left in ${JSON.stringify(clean)}`,
      );
      for (
        const request of [
          decodeTextRequest(frame.text),
          decodeJsonRequest(frame.text),
        ]
      ) {
        if (request === null) continue;
        assert.equal(typeof request.type, "string");
        if (request.type === "error") {
          assert.ok(encodeTextEvent(request).startsWith("*** Error: "));
          assert.doesNotThrow(() => JSON.parse(encodeJsonEvent(request)));
        }
      }
      for (const check of [checkNick(frame.text), checkRoom(frame.text)]) {
        if (check.ok) assert.ok(!/[\p{Cc}\p{Cf}\s]/u.test(check.name));
      }
      assert.equal(typeof skeletonKey(frame.text), "string");
    }
  });
});

Deno.test(`fuzz: the server survives hostile clients (seed ${SEED})`, async () => {
  await using chat = await startServer({ loginTimeoutMs: 2000 });
  await using steady = await LineClient.text(chat.port, "steady");
  const iterations = 1500;
  await iterate(iterations, SEED + 1, async (random, iteration) => {
    const hostile = await LineClient.connect(chat.port, random.next() < 0.8);
    try {
      const login = random.next();
      if (login < 0.5) {
        await hostile.send(`fuzz${iteration}`);
      } else if (login < 0.75) {
        await hostile.sendJson({ type: "hello", nick: `fuzz${iteration}` });
      }
      const chunks = chunk(random, hostileBytes(random));
      for (const piece of chunks) {
        if (hostile.ended) break;
        await hostile.sendBytes(piece).catch(() => {});
      }
    } finally {
      if (random.next() < 0.5) await hostile.conn.closeWrite().catch(() => {});
      await hostile.close();
    }
    // The well-behaved client is still answered, every time.
    await steady.linesUntilPong();
    if (iteration % 250 === 249) {
      await using fresh = await LineClient.text(chat.port, `fresh${iteration}`);
      await fresh.send("/who");
      await fresh.expect(/^\*\*\* #lobby \(\d+\): /);
    }
  });
  await connectionsDropTo(chat.server, 1);
  assert.equal(chat.server.nicks.size, 1);
  assert.ok(
    !steady.received.some((line) => /\p{Cc}/u.test(line)),
    "no control character reached the well-behaved client",
  );
});
