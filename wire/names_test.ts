import assert from "node:assert/strict";
import {
  checkNick,
  checkRoom,
  foldKey,
  MAX_NICK_LENGTH,
  NameRegistry,
} from "./names.ts";
import { skeletonKey } from "../server/names/lookalikes.ts";

Deno.test("checkNick accepts letters of any script, digits, _ and -", () => {
  for (
    const nick of [
      "alice",
      "Bob_2",
      "x-y",
      "zoë",
      "Дмитрий",
      "李雷",
      "नमस्ते",
      "_",
      "a".repeat(MAX_NICK_LENGTH),
    ]
  ) {
    assert.deepEqual(
      checkNick(nick),
      { ok: true, name: nick.normalize("NFC") },
      nick,
    );
  }
});

Deno.test("checkNick refuses empty, long, spaced and symbol-laden names", () => {
  const refused = [
    "",
    "a".repeat(MAX_NICK_LENGTH + 1),
    "two words",
    "#room",
    "@op",
    "a:b",
    "dot.ted",
    "ali\u200bce",
    "\u202eecila",
    "ali\u034fce",
    "bell\x07",
    "\u0301accent-first",
    "emoji😀",
  ];
  for (const nick of refused) {
    assert.equal(checkNick(nick).ok, false, JSON.stringify(nick));
  }
});

Deno.test("checkRoom adds a missing # and applies the nickname charset", () => {
  assert.deepEqual(checkRoom("dev"), { ok: true, name: "#dev" });
  assert.deepEqual(checkRoom("#Dev-2"), { ok: true, name: "#Dev-2" });
  for (const room of ["#", "", "#two words", "##x", "#" + "r".repeat(33)]) {
    assert.equal(checkRoom(room).ok, false, room);
  }
});

Deno.test("checkRoom says what is wrong with a name it refuses", () => {
  const reasons: [string, string][] = [
    ["##", "Room name has one #, at its start, then letters, digits, _ and -"],
    [
      "#a#b",
      "Room name has one #, at its start, then letters, digits, _ and -",
    ],
    [
      "two words",
      "Room name may hold only letters, digits, _ and - after its #",
    ],
    ["#!!!", "Room name may hold only letters, digits, _ and - after its #"],
    [
      "#\u0301a",
      "Room name starts with an accent, which needs a letter before it",
    ],
    ["#", "Room name is empty"],
  ];
  for (const [room, reason] of reasons) {
    assert.deepEqual(checkRoom(room), { ok: false, reason }, room);
  }
});

Deno.test("foldKey ignores case and width", () => {
  assert.equal(foldKey("Alice"), foldKey("alice"));
  assert.equal(foldKey("ＡＬＩＣＥ"), foldKey("alice"));
  assert.notEqual(foldKey("alice"), foldKey("alicia"));
});

Deno.test("NameRegistry finds collisions by case or by looks", () => {
  const registry = new NameRegistry<string>(skeletonKey);
  registry.add("alice", "owner-1");
  for (
    const name of [
      "alice",
      "ALICE",
      "Alice",
      "\u0430lice",
      "aIice",
      "ａｌｉｃｅ",
    ]
  ) {
    assert.equal(registry.find(name), "owner-1", name);
  }
  assert.equal(registry.find("alicia"), undefined);
  assert.equal(registry.get("ALICE"), "owner-1");
  assert.equal(
    registry.get("\u0430lice"),
    undefined,
    "addressing is by name, not looks",
  );
  registry.delete("alice", "someone-else");
  assert.equal(registry.size, 1);
  registry.delete("alice", "owner-1");
  assert.equal(registry.find("alice"), undefined);
  assert.equal(registry.size, 0);
});
