/**
 * The example bot in examples/ping_bot.ts does what PROTOCOL.md tells bot
 * authors: answers in JSON mode, retries its hello after `nick_taken`,
 * comes back after a restart, and stays away after a kick.
 */

import assert from "node:assert/strict";
import { runBot } from "../examples/ping_bot.ts";
import { LineClient, startServer, within } from "./helpers.ts";

/** Runs the bot in the background, collecting what it logs. */
function startBot(port: number, nick = "pingbot") {
  const stop = new AbortController();
  const log: string[] = [];
  const done = runBot(
    { hostname: "127.0.0.1", port, nick, log: (line) => log.push(line) },
    stop.signal,
  );
  return {
    log,
    done,
    async [Symbol.asyncDispose]() {
      stop.abort();
      await done;
    },
  };
}

Deno.test("ping bot: answers !ping, takes another nick when its own is taken", async () => {
  await using chat = await startServer();
  await using squatter = await LineClient.text(chat.port, "pingbot");
  await using _bot = startBot(chat.port);
  await squatter.expect("*** pingbot_ joined #lobby");
  await squatter.send("!ping");
  await squatter.expect("<pingbot_> pong, pingbot");
});

Deno.test("ping bot: comes back after a restart, stays away after a kick", async () => {
  const first = await startServer();
  const port = first.port;
  await using alice = await LineClient.text(port, "alice");
  await using bot = startBot(port);
  {
    await alice.expect("*** pingbot joined #lobby");
    await first.server.close();
  }
  await using second = await startServer({}, {
    port,
    operatorPassword: "op-pw",
  });
  await using op = await LineClient.text(second.port, "op");
  await op.expect("*** pingbot joined #lobby", 10_000);
  await op.send("!ping");
  await op.expect("<pingbot> pong, op");
  await op.send("/oper op-pw");
  await op.expect("*** You are now an operator");
  await op.send("/kick pingbot enough");
  assert.equal(await within(bot.done, "the bot to stop"), 1);
  assert.match(bot.log.join("\n"), /not reconnecting: Kicked by op: enough/);
  const after = await op.linesUntilPong();
  assert.ok(!after.some((line) => line.includes("pingbot joined")));
});
