import assert from "node:assert/strict";
import { readChanges, remoteNews } from "./remote_news.ts";
import type { PresenceNotice, RemoteMember } from "./presence_seam.ts";

function member(
  rooms: string[],
  away: string | null = null,
  nick = "bob",
  sid = 1,
): RemoteMember {
  return {
    node: "n1",
    sid,
    nick,
    away,
    isOp: false,
    address: "10.0.0.1",
    rooms,
  };
}

Deno.test("a remote join is announced once, and not in a big room", () => {
  const join = { type: "join", room: "#dev", ts: 5, announce: true } as const;
  const news = remoteNews(member(["#lobby"]), member(["#lobby", "#dev"]), join);
  assert.deepEqual(news?.rooms, ["#dev"]);
  assert.deepEqual(news?.event("#Dev"), {
    type: "join",
    ts: 5,
    room: "#Dev",
    nick: "bob",
  });
  // Already known in the room (a fresh read came first): no repeat.
  assert.equal(remoteNews(member(["#DEV"]), member(["#dev"]), join), null);
  // The other node counted the room big.
  assert.equal(
    remoteNews(undefined, member(["#dev"]), { ...join, announce: false }),
    null,
  );
});

Deno.test("a remote part or quit is announced only for someone known", () => {
  const part = { type: "part", room: "#dev", ts: 6, announce: true } as const;
  assert.deepEqual(
    remoteNews(member(["#lobby", "#dev"]), member(["#lobby"]), part)?.event(
      "#dev",
    ),
    { type: "leave", ts: 6, room: "#dev", nick: "bob", reason: "part" },
  );
  assert.equal(remoteNews(member(["#lobby"]), member(["#lobby"]), part), null);
  const quit: PresenceNotice = {
    type: "leave",
    reason: "quit",
    detail: "bye",
    ts: 7,
    announced: ["#lobby"],
  };
  const news = remoteNews(member(["#lobby", "#big"]), undefined, quit);
  assert.deepEqual(news?.rooms, ["#lobby"]);
  assert.deepEqual(news?.event("#lobby"), {
    type: "leave",
    ts: 7,
    room: "#lobby",
    nick: "bob",
    reason: "quit",
    message: "bye",
  });
  assert.equal(remoteNews(undefined, undefined, quit), null);
});

Deno.test("a remote rename, away and back reach all the person's rooms", () => {
  const after = member(["#a", "#b"], "lunch");
  assert.deepEqual(
    remoteNews(member(["#a"], null, "bo"), after, {
      type: "nick",
      old: "bo",
      ts: 1,
    })?.rooms,
    ["#a", "#b"],
  );
  // Repeats (a fresh read told it first) are not told again.
  assert.equal(
    remoteNews(after, after, { type: "nick", old: "bo", ts: 1 }),
    null,
  );
  assert.equal(
    remoteNews(member(["#a"]), member(["#a"]), { type: "back", ts: 1 }),
    null,
  );
  assert.deepEqual(
    remoteNews(undefined, after, { type: "away", ts: 2 })?.event("#a"),
    { type: "away", ts: 2, room: "#a", nick: "bob", reason: "lunch" },
  );
  assert.deepEqual(
    remoteNews(undefined, member(["#a"]), { type: "back", ts: 3 })?.event("#a"),
    { type: "back", ts: 3, room: "#a", nick: "bob" },
  );
  assert.equal(remoteNews(undefined, after, { type: "state" }), null);
});

Deno.test("a fresh read of a node tells what changed while Redis was away", () => {
  const before = new Map([
    [1, member(["#lobby", "#dev"], null, "ana", 1)],
    [2, member(["#lobby"], null, "bob", 2)],
    [3, member(["#big"], null, "cat", 3)],
  ]);
  const after = new Map([
    [1, member(["#lobby", "#ops"], "out", "anna", 1)],
    [4, member(["#lobby", "#big"], null, "dan", 4)],
  ]);
  const changes = readChanges(before, after, 9, (room) => room === "#big");
  const told = changes.map(({ notice }) => {
    switch (notice.type) {
      case "leave":
        return `leave ${notice.announced.join(",")}`;
      case "join":
      case "part":
        return `${notice.type} ${notice.room} ${notice.announce}`;
      case "nick":
        return `nick ${notice.old}`;
      default:
        return notice.type;
    }
  });
  assert.deepEqual(told, [
    "leave #lobby", // bob
    "leave ", // cat, only in a big room
    "join #ops true", // ana
    "part #dev true",
    "nick ana",
    "away",
    "join #lobby true", // dan
    "join #big false",
  ]);
  // Nothing changed: nothing told.
  assert.deepEqual(readChanges(before, before, 9, () => false), []);
});
