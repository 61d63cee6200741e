/**
 * What a newcomer runs into in their first hour, at `nc` and in the
 * terminal client: asking `/help` about one command, a typo in a command's
 * name, and the client's own answers where it differs from `nc`.
 */

import assert from "node:assert/strict";
import { LineClient, startServer } from "./helpers.ts";

Deno.test("help: /help COMMAND explains that command, by any of its names", async () => {
  await using chat = await startServer();
  await using nc = await LineClient.connect(chat.port);
  // Before login too: a newcomer asks before choosing a nickname.
  await nc.send("/help join");
  await nc.expect(
    "*** /join #ROOM (also /j): join a room (creating it if new) and talk there; you stay in the others",
  );
  await nc.send("alice");
  await nc.expect("*** alice joined #lobby");
  await nc.send("/help /tell");
  await nc.expect(
    "*** /msg NICK TEXT (also /m, /tell): send a private message",
  );
  await nc.send("/HELP Kick");
  await nc.expect(
    "*** /kick NICK [REASON]: disconnect someone (operators)",
  );
  await nc.send("/help bogus");
  await nc.expect("*** Error: No command /bogus; /help lists the commands");
  await nc.send("/help");
  await nc.expect(
    /^\*\*\* {3}\/help \[COMMAND\] +list the commands, or explain one$/,
  );
});

Deno.test('help: a JSON client asks about one command with "command"', async () => {
  await using chat = await startServer();
  await using bot = await LineClient.json(chat.port, "bot");
  await bot.sendJson({ type: "help", command: "names", ref: "h" });
  const one = await bot.expectEvent("help");
  assert.equal(one.ref, "h");
  assert.equal(one.command, "who");
  assert.deepEqual(one.commands, [{
    usage: "/who [#ROOM] [after NICK]",
    summary:
      "list who is in the current room (or another), a page at a time in a big room",
    aliases: ["/names"],
  }]);
  await bot.sendJson({ type: "help", command: "nope", ref: "n" });
  const refused = await bot.expectEvent("error");
  assert.equal(refused.code, "unknown_command");
  assert.equal(refused.ref, "n");
});

Deno.test("typos: an unknown command names the one it probably was", async () => {
  await using chat = await startServer();
  await using nc = await LineClient.text(chat.port, "alice");
  await nc.send("/jion #dev");
  await nc.expect(
    "*** Error: Unknown command /jion; did you mean /join? /help lists the commands",
  );
  await nc.send("/hlep");
  await nc.expect(
    "*** Error: Unknown command /hlep; did you mean /help? /help lists the commands",
  );
  await nc.send("/histroy");
  await nc.expect(
    "*** Error: Unknown command /histroy; did you mean /history? /help lists the commands",
  );
  await nc.send("/help mgs");
  await nc.expect(
    "*** Error: No command /mgs; did you mean /msg? /help lists the commands",
  );
  // Nothing close: no guess.
  await nc.send("/frobnicate");
  await nc.expect(
    "*** Error: Unknown command /frobnicate; /help lists the commands",
  );
});
