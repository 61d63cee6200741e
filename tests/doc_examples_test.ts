/**
 * The sessions README.md and PROTOCOL.md show, played against a server with
 * the default limits: what each example says the server sends is what it
 * sends, line for line. Clock times, dates and message times differ from
 * run to run and are compared by their shape; everything else word for word.
 */

import assert from "node:assert/strict";
import { HistoryStore } from "../server/store/history_store.ts";
import { DEFAULT_LIMITS } from "../server/limits.ts";
import { LineClient, startServer } from "./helpers.ts";

/** The fenced code blocks of a markdown file, each as its lines. */
async function codeBlocks(file: string): Promise<string[][]> {
  const text = await Deno.readTextFile(new URL(`../${file}`, import.meta.url));
  const blocks: string[][] = [];
  let block: string[] | null = null;
  for (const line of text.split("\n")) {
    if (line.startsWith("```")) {
      if (block === null) block = [];
      else {
        blocks.push(block);
        block = null;
      }
    } else if (block !== null) {
      block.push(line);
    }
  }
  return blocks;
}

/** The one block of `file` that holds `marker` as a whole line. */
async function exampleWith(file: string, marker: string): Promise<string[]> {
  const found = (await codeBlocks(file)).filter((b) => b.includes(marker));
  assert.equal(found.length, 1, `one block of ${file} holds ${marker}`);
  return found[0]!;
}

/** Times, days and JSON timestamps by their shape. */
function shape(line: string): string {
  return line
    .replace(/\[\d\d:\d\d:\d\d\]/g, "[hh:mm:ss]")
    .replace(/\d{4}-\d\d-\d\d/g, "yyyy-mm-dd")
    .replace(/"ts":\d+/g, '"ts":T');
}

/** The limits a server starts with when given no flags. */
const DEFAULTS = {
  floodRate: DEFAULT_LIMITS.floodRate,
  floodBurst: DEFAULT_LIMITS.floodBurst,
  floodByteRate: DEFAULT_LIMITS.floodByteRate,
  floodBurstBytes: DEFAULT_LIMITS.floodBurstBytes,
};

Deno.test("README's first session, as nc shows it, is what the server sends", async () => {
  const example = await exampleWith("README.md", "hi all");
  const dir = await Deno.makeTempDir({ prefix: "tern-doc-" });
  try {
    // The room's history: carol's good night and bob's morning, ids 310
    // and 311 (ids are shared by every room and private message).
    const store = new HistoryStore(`${dir}/chat.db`);
    for (
      const [id, ts, from, text] of [
        [310, Date.UTC(2026, 11, 1, 23, 58, 40), "carol", "good night"],
        [311, Date.UTC(2026, 11, 2, 9, 12, 3), "bob", "morning"],
      ] as const
    ) {
      store.queueRoomMessage({
        type: "message",
        id,
        ts,
        room: "#lobby",
        from,
        text,
      });
    }
    store.commit();
    store.close();
    await using chat = await startServer(DEFAULTS, {
      database: `${dir}/chat.db`,
    });
    await using _carol = await LineClient.text(chat.port, "carol");
    await using bob = await LineClient.text(chat.port, "bob");
    await using alice = await LineClient.connect(chat.port);
    await alice.expect(/^\*\*\* Choose a nickname/);
    await alice.send("alice");
    await alice.expect("*** #lobby (3): alice, bob, carol");
    await alice.send("hi all");
    await bob.expect("<alice> hi all");
    await bob.send("hi alice");
    await alice.expect("<bob> hi alice");
    await alice.send("/history 2");
    await alice.expect(/^\*\*\* Older messages/);
    const typed = ["$ nc localhost 7000", "alice", "hi all", "/history 2"];
    assert.deepEqual(
      alice.received.map(shape),
      example.filter((line) => !typed.includes(line)).map(shape),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("PROTOCOL.md's text and JSON examples are what bob and the bot get", async () => {
  const text = await exampleWith("PROTOCOL.md", "hi bot");
  const json = await exampleWith("PROTOCOL.md", '> {"type":"fly"}');
  await using chat = await startServer(DEFAULTS);
  await using bob = await LineClient.connect(chat.port);
  await bob.expect(/^\*\*\* Choose a nickname/);
  await bob.send("bob");
  await bob.expect("*** #lobby (1): bob");
  await using bot = await LineClient.connect(chat.port);
  await bot.sendJson({ type: "hello", nick: "bot", ref: "1" });
  await bot.expectEvent("who");
  await bob.expect("*** bot joined #lobby");
  await bot.sendJson({ type: "message", text: "hello, humans" });
  await bot.expectEvent("message");
  await bot.sendJson({ type: "private", to: "bob", text: "psst" });
  await bot.expectEvent("private");
  await bob.expect("*bot -> bob* psst");
  await bot.sendJson({ type: "rooms", ref: "2" });
  await bot.expectEvent("rooms");
  await bot.sendJson({ type: "fly" });
  await bot.expectEvent("error");
  await bob.send("hi bot");
  await bot.expectEvent("message", (m) => m.from === "bob");
  await bot.sendJson({ type: "quit", reason: "done" });
  await bot.expectEvent("bye");
  await bob.expect("*** bot left #lobby (quit: done)");
  await bob.send("/quit");
  await bob.expect(/^\*\*\* Disconnected/);

  const typed = ["$ nc localhost 7000", "bob", "hi bot", "/quit"];
  assert.deepEqual(
    bob.received,
    text.filter((line) => !typed.includes(line)),
  );
  assert.deepEqual(
    bot.received.map(shape),
    json.filter((line) => line.startsWith("< "))
      .map((line) => shape(line.slice(2))),
  );
});
