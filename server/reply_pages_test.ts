import assert from "node:assert/strict";
import {
  historyPage,
  motdPages,
  newestPage,
  pagedMessageBytes,
  REPLY_PAGE_BYTES,
} from "./reply_pages.ts";
import {
  encodeJsonEvent,
  encodeTextEvent,
  type RoomMessage,
} from "../protocol.ts";

const message = (id: number, text: string): RoomMessage => ({
  type: "message",
  id,
  ts: 1_700_000_000_000 + id,
  room: "#lobby",
  from: "alice",
  text,
});

const utf8 = (text: string) => new TextEncoder().encode(text).length;

Deno.test("newestPage keeps the newest within the count and the bytes", () => {
  const size = () => 10;
  assert.deepEqual(newestPage([1, 2, 3], 5, size, 100), {
    items: [1, 2, 3],
    more: false,
  });
  assert.deepEqual(newestPage([1, 2, 3, 4], 3, size, 100), {
    items: [2, 3, 4],
    more: true,
  }, "the store's extra row says older ones exist");
  assert.deepEqual(newestPage([1, 2, 3], 3, size, 25), {
    items: [2, 3],
    more: true,
  }, "cut by bytes");
  assert.deepEqual(newestPage([1, 2], 3, () => 1000, 25), {
    items: [2],
    more: true,
  }, "one item always goes, however large");
  assert.deepEqual(newestPage([], 3, size, 25), { items: [], more: false });
});

Deno.test("pagedMessageBytes is what the message costs in each codec", () => {
  const m = message(7, 'a "quoted" \\ line, été');
  assert.equal(
    pagedMessageBytes(m, "json"),
    utf8(JSON.stringify(m)) + 1,
  );
  const text = encodeTextEvent({
    type: "history",
    room: "#lobby",
    messages: [m],
  });
  const line = text.split("\n").find((l) => l.startsWith("["))! + "\n";
  assert.equal(pagedMessageBytes(m, "text"), utf8(line));
});

Deno.test("historyPage bounds a page of long messages and says there is more", () => {
  const rows = Array.from(
    { length: 31 },
    (_, i) => message(i + 1, "\\".repeat(4090)),
  );
  const json = historyPage("#lobby", rows, 30, "json");
  assert.equal(json.more, true);
  assert.ok(json.messages.length < 30 && json.messages.length > 0);
  assert.equal(json.messages.at(-1)!.id, 31, "the newest are kept");
  assert.ok(utf8(encodeJsonEvent(json)) <= REPLY_PAGE_BYTES + 200);
  const text = historyPage("#lobby", rows, 30, "text");
  assert.ok(text.messages.length > json.messages.length, "text is not escaped");
  assert.ok(utf8(encodeTextEvent(text)) <= REPLY_PAGE_BYTES + 200);
  const short = historyPage("#lobby", rows.slice(0, 5), 30, "json");
  assert.equal(short.more, undefined, "everything fits: no more");
  assert.equal(short.messages.length, 5);
});

Deno.test("motdPages splits a long MOTD into bounded, continued events", () => {
  const lines = Array.from(
    { length: 2000 },
    (_, i) => `${i} `.padEnd(200, "m"),
  );
  const pages = motdPages(lines);
  assert.ok(pages.length > 1);
  assert.deepEqual(pages.flatMap((page) => page.lines), lines);
  assert.equal(pages[0]!.continued, undefined);
  for (const page of pages.slice(1)) assert.equal(page.continued, true);
  for (const page of pages) {
    assert.ok(utf8(encodeJsonEvent(page)) <= REPLY_PAGE_BYTES + 200);
  }
  const text = pages.map(encodeTextEvent).join("");
  assert.equal(text.split("Message of the day:").length, 2, "one header");
  assert.deepEqual(motdPages([]), [{ type: "motd", lines: [] }]);
  assert.deepEqual(motdPages(["hello"]), [{ type: "motd", lines: ["hello"] }]);
});
