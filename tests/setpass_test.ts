/**
 * `/setpass`: the owner of a registered nickname, once identified, gives it
 * a new password; the old one stops working, the new one works, and someone
 * not identified cannot change anything.
 */

import assert from "node:assert/strict";
import { LineClient, startServer } from "./helpers.ts";

const FAST_KDF = { passwordIterations: 1000 };

/** The first reply to an identifying hello: its welcome or its error. */
async function identifyReply(
  port: number,
  identify: string,
): Promise<string> {
  await using client = await LineClient.connect(port);
  await client.sendJson({ type: "hello", nick: "alice", identify });
  return await client.expect((line) =>
    line.includes('"type":"welcome"') || line.includes('"type":"error"')
  );
}

Deno.test("setpass: an identified owner changes the password; the old one no longer works", async () => {
  await using chat = await startServer(FAST_KDF);
  {
    await using alice = await LineClient.text(chat.port, "alice");
    await alice.send("/setpass new horse");
    await alice.expect(
      "*** Error: You are not identified to any nickname",
    );
    await alice.send("/register old horse");
    await alice.expect(/now registered to you/);
    await alice.send("/setpass short");
    await alice.expect(/^\*\*\* Error: Choose a password of at least 8/);
    await alice.send("/setpass new horse");
    await alice.expect("*** The password of alice is changed");
    await alice.send("/quit");
    await alice.closed();
  }
  await chat.server.connectionsAtMost(0);
  assert.match(await identifyReply(chat.port, "old horse"), /bad_password/);
  assert.match(await identifyReply(chat.port, "new horse"), /"welcome"/);
});
