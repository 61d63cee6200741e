import assert from "node:assert/strict";
import { remoteNews } from "./remote_news.ts";
import type { PresenceNotice, RemoteMember } from "./presence_seam.ts";

function member(rooms: string[], away: string | null = null): RemoteMember {
  return {
    node: "n1",
    sid: 1,
    nick: "bob",
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
    remoteNews(member(["#a", "#b"]), after, { type: "nick", old: "bo", ts: 1 })
      ?.rooms,
    ["#a", "#b"],
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
