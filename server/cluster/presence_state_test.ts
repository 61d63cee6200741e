import assert from "node:assert/strict";
import { type MemberState, RemotePeople } from "./presence_state.ts";

function state(nick: string, rooms: string[], away: string | null = null) {
  return {
    nick,
    away,
    op: false,
    address: "10.0.0.1",
    rooms,
    claim: `tern:nick:${nick}`,
  } satisfies MemberState;
}

Deno.test("remote people are indexed by room and by nickname, ignoring case", () => {
  const people = new RemotePeople();
  people.set("n1", 1, state("Ana", ["#lobby", "#Dev"]));
  people.set("n2", 7, state("bob", ["#dev"]));
  assert.equal(people.count("#DEV"), 2);
  assert.equal(people.count("#lobby"), 1);
  assert.equal(people.count("#none"), 0);
  assert.deepEqual([...people.members("#dev")].map((m) => m.nick), [
    "Ana",
    "bob",
  ]);
  assert.equal(people.find("ANA")?.sid, 1);
  assert.deepEqual(people.rooms(), [
    { name: "#lobby", members: 1 },
    { name: "#Dev", members: 2 },
  ]);
});

Deno.test("a change replaces the old entry everywhere and reports both", () => {
  const people = new RemotePeople();
  people.set("n1", 1, state("ana", ["#lobby", "#dev"]));
  const renamed = people.set("n1", 1, state("anna", ["#dev"], "lunch"));
  assert.equal(renamed.before?.nick, "ana");
  assert.equal(renamed.after?.away, "lunch");
  assert.equal(people.find("ana"), undefined);
  assert.equal(people.find("anna")?.away, "lunch");
  assert.equal(people.count("#lobby"), 0);
  assert.deepEqual(people.rooms(), [{ name: "#dev", members: 1 }]);
  const gone = people.set("n1", 1, null);
  assert.equal(gone.after, undefined);
  assert.deepEqual(people.rooms(), []);
  assert.deepEqual(people.nodes(), []);
});

Deno.test("a node's people go together, and a fresh read replaces them", () => {
  const people = new RemotePeople();
  people.set("n1", 1, state("ana", ["#lobby"]));
  people.set("n1", 2, state("ada", ["#lobby"]));
  people.set("n2", 1, state("bob", ["#lobby"]));
  assert.deepEqual(people.dropNode("n1").map((m) => m.nick).sort(), [
    "ada",
    "ana",
  ]);
  assert.deepEqual(people.dropNode("n1"), []);
  assert.equal(people.count("#lobby"), 1);
  people.replaceNode("n2", new Map([[5, state("cat", ["#x"])]]));
  assert.equal(people.find("bob"), undefined);
  assert.equal(people.find("cat")?.sid, 5);
  assert.deepEqual(people.nodes(), ["n2"]);
});

Deno.test("remote people are counted by address, written either way", () => {
  const people = new RemotePeople();
  people.set("n1", 1, {
    ...state("ana", ["#lobby"]),
    address: "::ffff:10.0.0.9",
  });
  people.set("n2", 2, { ...state("bob", ["#lobby"]), address: "10.0.0.9" });
  people.set("n2", 3, state("cat", ["#lobby"]));
  assert.equal(people.at("10.0.0.9"), 2);
  assert.equal(people.at("10.0.0.2"), 0);
});

Deno.test("the size counts every remote session once, whatever its rooms", () => {
  const people = new RemotePeople();
  assert.equal(people.size, 0);
  people.set("n1", 1, state("ana", ["#lobby", "#dev"]));
  people.set("n1", 2, state("ada", ["#dev"]));
  people.set("n2", 1, state("bob", ["#lobby"]));
  assert.equal(people.size, 3);
  people.set("n1", 1, null);
  people.dropNode("n2");
  assert.equal(people.size, 1);
});

Deno.test("remote people are found by account under any nickname, and forgotten when they change or go", () => {
  const people = new RemotePeople();
  people.set("n1", 1, { ...state("ana", ["#lobby"]), account: 7 });
  people.set("n2", 2, state("bob", []));
  assert.equal(people.withAccount(7)?.nick, "ana");
  people.set("n1", 1, { ...state("ana_away", []), account: 7 });
  assert.equal(people.withAccount(7)?.nick, "ana_away", "renamed");
  people.set("n1", 1, state("ana_away", []));
  assert.equal(people.withAccount(7), undefined, "no longer identified");
  people.set("n2", 2, { ...state("bob", []), account: 7 });
  assert.equal(people.withAccount(7)?.sid, 2);
  people.dropNode("n2");
  assert.equal(people.withAccount(7), undefined, "its node went");
  assert.equal(people.withAccount(8), undefined);
});
