import assert from "node:assert/strict";
import { AccountSessions } from "./account_sessions.ts";
import type { SessionAccount } from "./session.ts";

function connection(): { account: SessionAccount | null } {
  return { account: null };
}

Deno.test("AccountSessions: connections by account follow identify, re-identify, drop and close", () => {
  const index = new AccountSessions();
  const [a, b, c] = [connection(), connection(), connection()];
  index.set(a, { id: 1, nick: "ana" });
  index.set(b, { id: 1, nick: "ana" });
  index.set(c, { id: 2, nick: "cy" });
  assert.deepEqual([...index.of(1)], [a, b]);
  assert.equal(a.account?.id, 1, "the connection's account is set");
  index.set(b, { id: 2, nick: "cy" });
  assert.deepEqual([...index.of(1)], [a], "identified to another account");
  assert.deepEqual([...index.of(2)], [c, b]);
  index.set(c, null);
  assert.equal(c.account, null);
  assert.deepEqual([...index.of(2)], [b], "dropped");
  index.forget(a);
  assert.deepEqual([...index.of(1)], [], "closed");
  assert.equal(a.account?.id, 1, "a closed connection keeps its account");
  index.forget(a);
  assert.deepEqual([...index.of(3)], []);
});
