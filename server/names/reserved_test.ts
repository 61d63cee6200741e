import assert from "node:assert/strict";
import { RESERVED_NICKS, reservedNickRefusal } from "./reserved.ts";

Deno.test("reserved nicknames: staff words and the server's name, in any case or disguise", () => {
  for (
    const nick of [
      ...RESERVED_NICKS,
      "ADMIN",
      "rnoderator",
      "\u0455erver",
      "NickServ",
    ]
  ) {
    assert.notEqual(reservedNickRefusal(nick, "tern"), null, nick);
  }
  assert.notEqual(reservedNickRefusal("Tern", "tern"), null);
  assert.notEqual(reservedNickRefusal("hub", "Hub"), null);
  assert.equal(reservedNickRefusal("tern", "hub"), null);
  for (const nick of ["alice", "admins", "serverless", "op", "root2"]) {
    assert.equal(reservedNickRefusal(nick, "tern"), null, nick);
  }
});
