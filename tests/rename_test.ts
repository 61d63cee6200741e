/**
 * One rename path: `/nick`, `/identify` under another name and a ghost
 * takeover all carry a mute with the person, so nobody escapes a mute by
 * changing names.
 */

import assert from "node:assert/strict";
import { LineClient, startServer } from "./helpers.ts";

const FAST_KDF = { passwordIterations: 1000 };

Deno.test("a muted user stays muted after identifying under another name", async () => {
  await using chat = await startServer(FAST_KDF, {
    operatorPassword: "op-pw",
  });
  {
    await using alice = await LineClient.text(chat.port, "alice");
    await alice.send("/register correct horse");
    await alice.expect(/now registered to you/);
    await alice.send("/quit");
    await alice.closed();
  }
  await using op = await LineClient.text(chat.port, "op");
  await op.send("/oper op-pw");
  await op.expect("*** You are now an operator");
  const bob = await LineClient.text(chat.port, "bob");
  await op.send("/mute bob");
  await bob.expect("*** You have been muted by op");
  await bob.send("/identify alice correct horse");
  await bob.expect("*** You are identified as alice");
  await bob.send("still here");
  await bob.expect("*** Error: You are muted");
  await bob.close();
  // The mute moved to the new name: reconnecting as alice keeps it.
  await using again = await LineClient.connect(chat.port);
  await again.send("alice");
  await again.expect(/^\*\*\* Nickname alice is registered/);
  await again.send("/identify correct horse");
  await again.expect("*** alice joined #lobby");
  await again.send("and now");
  await again.expect("*** Error: You are muted");
  await op.send("/unmute alice");
  await again.expect("*** You may talk again (unmuted by op)");
  await again.send("thanks");
  await op.expect("<alice> thanks");
});

Deno.test("/nick is refused while muted, so a rename neither escapes nor speaks", async () => {
  await using chat = await startServer({}, { operatorPassword: "op-pw" });
  await using op = await LineClient.text(chat.port, "op");
  await op.send("/oper op-pw");
  await op.expect("*** You are now an operator");
  const bob = await LineClient.text(chat.port, "bob");
  await op.send("/mute bob");
  await bob.expect("*** You have been muted by op");
  await bob.send("/nick robert");
  await bob.expect("*** Error: You are muted: you cannot change nickname");
  await bob.close();
  await using bob2 = await LineClient.text(chat.port, "bob");
  await bob2.send("hello");
  await bob2.expect("*** Error: You are muted");
  // robert was never bob: that name is free of the mute.
  await using robert = await LineClient.text(chat.port, "robert");
  await robert.send("hi all");
  await op.expect("<robert> hi all");
  const opSaw = await op.linesUntilPong();
  assert.ok(!opSaw.some((line) => line.includes("is now known as")));
});
