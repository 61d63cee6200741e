import assert from "node:assert/strict";
import { MemberIndex, memberPage, type PagedMember } from "./member_pages.ts";

function member(nick: string | null, extra: Partial<PagedMember> = {}) {
  return { nick, away: null, isOp: false, ...extra };
}

Deno.test("memberPage walks a list in fold-key order, each name once", () => {
  const nicks = Array.from({ length: 25 }, (_, i) => `N${String(i * 7 % 25)}`);
  const room = nicks.map((nick) => member(nick));
  const seen: string[] = [];
  let after: string | undefined;
  let pages = 0;
  do {
    const page = memberPage(room, after, 10);
    assert.equal(page.count, 25);
    assert.ok(page.members.length <= 10);
    seen.push(...page.members.map((m) => m.nick));
    after = page.next;
    pages++;
  } while (after !== undefined);
  assert.equal(pages, 3);
  assert.deepEqual(seen, [...nicks].sort((a, b) => a < b ? -1 : 1));
});

Deno.test("memberPage's cursor survives joins and leaves between pages", () => {
  const room = new Set(["alice", "bob", "carol", "dave"].map((n) => member(n)));
  const first = memberPage(room, undefined, 2);
  assert.deepEqual(first.members.map((m) => m.nick), ["alice", "bob"]);
  // bob leaves and aaron joins before the next page: neither shifts it.
  for (const m of room) if (m.nick === "bob") room.delete(m);
  room.add(member("aaron"));
  const second = memberPage(room, first.next, 2);
  assert.deepEqual(second.members.map((m) => m.nick), ["carol", "dave"]);
  assert.equal(second.next, undefined);
});

Deno.test("memberPage folds case, skips the nameless, keeps away and op", () => {
  const room = [
    member("Zed", { isOp: true }),
    member(null),
    member("amy", { away: "" }),
    member("BOB", { away: "lunch" }),
  ];
  const page = memberPage(room, "AMY", 5);
  assert.deepEqual(page, {
    members: [{ nick: "BOB", away: "lunch" }, { nick: "Zed", op: true }],
    count: 3,
  });
  assert.deepEqual(memberPage(room, "zzz", 5), { members: [], count: 3 });
  assert.equal(memberPage(room, undefined, 0).members.length, 1);
});

Deno.test("MemberIndex pages as memberPage does, through joins, leaves and renames", () => {
  const index = new MemberIndex<PagedMember>();
  const room = new Set<PagedMember>();
  const join = (nick: string) => {
    const m = member(nick);
    room.add(m);
    index.add(m);
    return m;
  };
  const pages = (after: string | undefined, limit: number) => {
    assert.deepEqual(
      index.page(after, limit),
      memberPage(room, after, limit),
      `after ${after}, limit ${limit}`,
    );
  };
  const people = ["carol", "Alice", "bob", "Émile", "zoë", "日本", "_x", "-y"]
    .map(join);
  for (const after of [undefined, "a", "alice", "BOB", "nobody", "zzzz"]) {
    for (const limit of [1, 2, 3, 100]) pages(after, limit);
  }
  room.delete(people[2]!);
  index.remove(people[2]!);
  const renamed = people[0]!;
  index.remove(renamed);
  renamed.nick = "Aaron";
  index.add(renamed);
  join("bob2");
  for (const after of [undefined, "aaron", "bob", "carol"]) {
    for (const limit of [1, 2, 100]) pages(after, limit);
  }
  assert.equal(index.size, room.size);
});
