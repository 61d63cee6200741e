import assert from "node:assert/strict";
import {
  FREE_WALKS,
  isWhoMore,
  lastWhoPage,
  PageCursors,
  takesFreePage,
  whoMoreRequest,
} from "./who_more.ts";

Deno.test("isWhoMore: /who more and /names more, nothing else", () => {
  for (const line of ["/who more", "/WHO More", "/names more", "/who  more "]) {
    assert.equal(isWhoMore(line), true, line);
  }
  for (
    const line of [
      "/who",
      "/who #more",
      "/who more more",
      "/who after more",
      "/msg more",
      "who more",
      " /who more",
    ]
  ) {
    assert.equal(isWhoMore(line), false, line);
  }
});

Deno.test("whoMoreRequest goes on after the last page shown, or says why not", () => {
  const page = lastWhoPage({
    type: "who",
    room: "#big",
    members: [{ nick: "ann" }, { nick: "cy" }],
    count: 300,
    next: "cy",
  });
  assert.deepEqual(whoMoreRequest(page), {
    type: "who",
    room: "#big",
    after: "cy",
  });
  const last = lastWhoPage({
    type: "who",
    room: "#big",
    members: [{ nick: "zed" }],
    count: 300,
  });
  const done = whoMoreRequest(last);
  assert.equal(done.type, "error");
  assert.match(
    (done as { message: string }).message,
    /last page of #big; \/who #big starts from the top/,
  );
  const none = whoMoreRequest(null);
  assert.equal(none.type, "error");
  assert.match((none as { message: string }).message, /\/who shows/);
});

Deno.test("PageCursors: each page given makes one request free, per room, for a few walks at once", () => {
  const cursors = new PageCursors();
  cursors.given("#a", "ann");
  cursors.given("#b", "ann");
  assert.equal(cursors.take("#c", "ann"), false, "another room");
  assert.equal(cursors.take("#a", "bea"), false, "a cursor never given");
  assert.equal(cursors.take("#b", "ANN"), true, "by fold key");
  assert.equal(cursors.take("#a", "ann"), true, "two walks at once");
  assert.equal(cursors.take("#a", "ann"), false, "used once");
  // The oldest of more walks than that goes back to paying.
  for (let i = 0; i <= FREE_WALKS; i++) cursors.given(`#r${i}`, "cy");
  assert.equal(cursors.take("#r0", "cy"), false);
  for (let i = 1; i <= FREE_WALKS; i++) {
    assert.equal(cursors.take(`#r${i}`, "cy"), true);
  }
});

Deno.test("takesFreePage: the page after one given, of the room named or the current one, at the default size or more", () => {
  const cursors = new PageCursors();
  cursors.given("#big", "cy");
  const after = { type: "who", after: "cy" } as const;
  assert.equal(takesFreePage(cursors, { type: "who" }, "#big"), false);
  assert.equal(takesFreePage(cursors, after, "#dev"), false, "elsewhere");
  assert.equal(takesFreePage(cursors, after, null), false, "no room");
  assert.equal(
    takesFreePage(cursors, { ...after, room: "#big", limit: 99 }, null),
    false,
    "small pages",
  );
  assert.equal(takesFreePage(cursors, { ...after, room: "big" }, null), true);
  cursors.given("#big", "cy");
  assert.equal(
    takesFreePage(cursors, { ...after, limit: 1000 }, "#Big"),
    true,
  );
  assert.equal(takesFreePage(cursors, { type: "rooms" }, "#big"), false);
});
