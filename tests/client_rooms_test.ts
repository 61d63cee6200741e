/**
 * The terminal client in many rooms: other rooms' lines tagged with the
 * room, typed lines going to the current room, `/switch`, and the rooms
 * put back after a reconnect.
 */

import assert from "node:assert/strict";
import { LineClient } from "./helpers.ts";
import {
  startClient,
  startServerProcess,
  TerminalProgram,
} from "./programs.ts";

Deno.test("client: other rooms' lines are tagged, and /switch moves where lines go", async () => {
  await using server = await startServerProcess();
  await using bob = await LineClient.text(server.port, "bob");
  await using alice = startClient(server.port, "--nick", "alice");
  await alice.stdout.expect("-- Connected to tern as alice", 15_000);
  await bob.expect("*** alice joined #lobby");
  await alice.type("/join #dev");
  await alice.stdout.expect(/-- alice joined #dev$/);
  await bob.send("lobby news");
  await alice.stdout.expect(/^\[#lobby\] \d\d:\d\d <bob> lobby news$/);
  await bob.send("/join #dev");
  await alice.stdout.expect(/^\d\d:\d\d -- bob joined #dev$/);
  await alice.type("for dev");
  await bob.expect("<alice> for dev");
  await alice.type("/switch #lobby");
  await alice.stdout.expect("-- Now talking in #lobby");
  await alice.type("for the lobby");
  await bob.expect("[#lobby] <alice> for the lobby");
  await bob.send("dev news");
  await alice.stdout.expect(/^\[#dev\] \d\d:\d\d <bob> dev news$/);
  await alice.type("/quit");
  assert.equal(await alice.exit(), 0);
  const quit = await bob.expect(/alice left/);
  assert.equal(quit, "*** alice left #dev (quit)", "told once, from #dev");
});

Deno.test("client: after a reconnect it is back in all its rooms, the same one current", async () => {
  const first = await startServerProcess();
  const port = first.port;
  await using alice = startClient(port, "--nick", "alice");
  await alice.stdout.expect("-- Connected to tern as alice", 15_000);
  for (const room of ["#dev", "#ops"]) {
    await alice.type(`/join ${room}`);
    await alice.stdout.expect(new RegExp(`-- alice joined ${room}$`));
  }
  await alice.type("/switch #dev");
  await alice.stdout.expect("-- Now talking in #dev");
  first.child.kill("SIGTERM");
  assert.equal(await first.exit(), 0);
  await first[Symbol.asyncDispose]();
  await alice.stdout.expect(/^-- Connection lost; reconnecting in/);
  await using second = await startServerProcess(["--port", String(port)]);
  await alice.stdout.expect("-- Connected to tern as alice", 20_000);
  await alice.stdout.expect("-- Now talking in #dev");
  await using watcher = await LineClient.text(second.port, "watcher");
  for (const room of ["#dev", "#ops", "#lobby"]) {
    await watcher.send(`/who ${room}`);
    await watcher.expect(new RegExp(`^\\*\\*\\* ${room} \\(\\d\\): .*alice`));
  }
  await watcher.send("/join #dev");
  await watcher.expect("*** watcher joined #dev");
  await alice.type("still in dev");
  await watcher.expect("<alice> still in dev");
  await alice.type("/quit");
  assert.equal(await alice.exit(), 0);
});

Deno.test("client: in a terminal, the prompt counts other rooms' lines and Tab completes a room", async () => {
  await using server = await startServerProcess();
  await using bob = await LineClient.text(server.port, "bob");
  await using alice = new TerminalProgram(server.port, "alice", ["--no-color"]);
  await alice.stdout.expect(
    (line) => line.includes("Connected to tern as alice"),
    15_000,
  );
  await bob.expect("*** alice joined #lobby");
  await alice.keys("/join #dev\r");
  await alice.stdout.waitFor(
    () => alice.stdout.partial.includes("#dev alice> "),
    "the prompt naming #dev",
  );
  await bob.send("one");
  await bob.send("two");
  await alice.stdout.waitFor(
    () => alice.stdout.partial.includes("#lobby(2) | #dev alice> "),
    "two unread lines from #lobby in the prompt",
  );
  await alice.keys("/sw #lo\t\r");
  await alice.stdout.expect((line) => line.includes("Now talking in #lobby"));
  await alice.stdout.waitFor(
    () => alice.stdout.partial.endsWith("\r\x1b[2K#lobby alice> \r\x1b[14C"),
    "the count gone once #lobby is current",
  );
  await alice.keys("back here\r");
  await bob.expect("<alice> back here");
  await alice.keys("\x03");
  assert.equal(await alice.exit(), 0);
});
