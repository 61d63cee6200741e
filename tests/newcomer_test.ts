/**
 * What a newcomer runs into in their first hour, at `nc` and in the
 * terminal client: asking `/help` about one command, a typo in a command's
 * name, and the client's own answers where it differs from `nc`.
 */

import assert from "node:assert/strict";
import { LineClient, registerNick, startServer, within } from "./helpers.ts";
import { Program, startServerProcess, TerminalProgram } from "./programs.ts";

/** A server process with `alice` registered (password "alices password"). */
async function serverWithAlice() {
  const server = await startServerProcess([
    "--port",
    "0",
    "--password-iterations",
    "1000",
  ]);
  await registerNick(server.port, "alice", "alices password");
  return server;
}

/** Waits until the client's unfinished line (its prompt) shows `text`. */
async function prompt(client: TerminalProgram, text: string): Promise<void> {
  await client.stdout.waitFor(
    () => client.stdout.partial.includes(text),
    `the prompt ${JSON.stringify(text)}`,
    15_000,
  );
}

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

Deno.test("client: a nickname someone else registered can be given up for another", async () => {
  await using server = await serverWithAlice();
  await using client = new TerminalProgram(server.port, "alice");
  await client.stdout.expect(
    (line) =>
      line.includes(
        "The nickname alice is registered and needs its password. Type it below (it is not shown), press Enter alone to choose another nickname, or Ctrl-C to leave.",
      ),
    15_000,
  );
  await prompt(client, "password for alice> ");
  await client.keys("\r");
  await prompt(client, "nickname> ");
  await client.keys("alison\r");
  await client.stdout.expect((line) =>
    line.includes("Connected to tern as alison")
  );
  await client.keys("\x03");
  assert.equal(await client.exit(), 0);
});

Deno.test("client: Ctrl-C at a password prompt leaves at once", async () => {
  await using server = await serverWithAlice();
  await using client = new TerminalProgram(server.port, "alice");
  await prompt(client, "password for alice> ");
  const pressed = Date.now();
  await client.keys("\x03");
  assert.equal(await client.exit(), 0);
  const took = Date.now() - pressed;
  assert.ok(took < 3000, `Ctrl-C took ${took} ms to leave`);
});

Deno.test("client: Ctrl-C twice during a paste discards what was not sent, as it says", async () => {
  await using server = await startServerProcess();
  await using bob = await LineClient.text(server.port, "bob");
  await using alice = new TerminalProgram(server.port, "alice");
  await alice.stdout.expect(
    (line) => line.includes("Connected to tern as alice"),
    15_000,
  );
  const count = 40;
  const pasted = Array.from({ length: count }, (_, i) => `line ${i + 1}\r`);
  await alice.keys(pasted.join(""));
  await prompt(alice, "to send) #lobby alice> ");
  await alice.keys("\x03");
  await alice.stdout.expect((line) =>
    /\d+ lines have not been sent yet\. Press Ctrl-C again to discard and quit/
      .test(line)
  );
  const pressed = Date.now();
  await alice.keys("\x03");
  assert.equal(await alice.exit(), 0);
  const took = Date.now() - pressed;
  assert.ok(took < 3000, `quitting took ${took} ms`);
  await bob.expect("*** alice left #lobby (quit)");
  const said = bob.received.filter((line) => line.startsWith("<alice> line "));
  assert.ok(said.length < count, `all ${count} lines went out`);
  // What did go out went in order, from the first.
  assert.deepEqual(
    said,
    Array.from({ length: said.length }, (_, i) => `<alice> line ${i + 1}`),
  );
});

Deno.test("client: a bad --nick is a bad flag, refused before connecting", async () => {
  await using client = new Program(
    "client.ts",
    ["--port", "1", "--nick", "bad nick"],
    true,
  );
  assert.equal(await client.exit(15_000), 2);
  assert.deepEqual(client.stderr.received, [
    "client: --nick bad nick: Nickname may hold only letters, digits, _ and - (see --help)",
  ]);
});

Deno.test("long lines: the welcome says how long a line may be, and a longer one is refused with what to do", async () => {
  await using chat = await startServer({ maxLineBytes: 200 });
  await using bot = await LineClient.json(chat.port, "bot");
  const welcome = JSON.parse(
    bot.received.find((line) => line.includes('"welcome"'))!,
  );
  assert.equal(welcome.maxLine, 200);
  await using nc = await LineClient.text(chat.port, "ann");
  await nc.send("x".repeat(300));
  await nc.expect(
    "*** Error: Line longer than 200 bytes; nobody saw it: send it as shorter lines",
  );
});

Deno.test("client: a line too long for the server goes out as several messages, nothing lost", async () => {
  await using server = await startServerProcess([
    "--port",
    "0",
    "--max-line",
    "200",
  ]);
  await using bob = await LineClient.text(server.port, "bob");
  await using alice = new Program(
    "client.ts",
    ["--port", String(server.port), "--nick", "alice"],
    true,
  );
  await bob.expect("*** alice joined #lobby", 15_000);
  // 150 bytes each way nc would count them, but each quote doubles in JSON.
  const quoted = '"'.repeat(150);
  const words = Array.from({ length: 60 }, (_, i) => `word${i}`).join(" ");
  await alice.type(quoted);
  await alice.type(words);
  await alice.type("/quit");
  assert.equal(await alice.exit(15_000), 0);
  await bob.expect("*** alice left #lobby (quit)");
  const said = bob.received.filter((line) => line.startsWith("<alice> "))
    .map((line) => line.slice("<alice> ".length));
  const quotes = said.filter((text) => text.startsWith('"'));
  assert.ok(quotes.length >= 2, JSON.stringify(said));
  assert.equal(quotes.join(""), quoted);
  const parts = said.filter((text) => text.startsWith("word"));
  assert.ok(parts.length >= 2, JSON.stringify(said));
  // Cut between words, never inside one.
  assert.equal(parts.join(" "), words);
  assert.match(
    alice.stdout.received.join("\n"),
    /-- That line is longer than the server takes at once \(200 bytes\): it goes as \d+ messages/,
  );
});

Deno.test("client: pointed at the web client's port, it says which port is the chat's", async () => {
  await using server = await startServerProcess([
    "--port",
    "0",
    "--http-port",
    "0",
  ]);
  const web = await server.stdout.expect(/^Web client: open http:/);
  const httpPort = web.match(/:(\d+)\//)![1]!;
  await using client = new Program(
    "client.ts",
    ["--port", httpPort, "--nick", "alice"],
    true,
  );
  assert.equal(await client.exit(15_000), 1);
  assert.deepEqual(client.stderr.received, [
    "client: This port serves the web client (HTTP), not the chat: give the chat's port (7000 unless the server was started with --port)",
  ]);
});

Deno.test("telnet: Ctrl-C gets its timing mark answered, then how to leave", async () => {
  await using chat = await startServer();
  using telnet = await Deno.connect({ hostname: "127.0.0.1", port: chat.port });
  const received: number[] = [];
  const buffer = new Uint8Array(4096);
  const text = () => new TextDecoder().decode(new Uint8Array(received));
  /** Reads raw bytes (the answer is not text) until `what` has come. */
  const readUntil = (what: string) =>
    within(
      (async () => {
        while (!text().includes(what)) {
          const count = await telnet.read(buffer);
          if (count === null) throw new Error(`closed before ${what}`);
          received.push(...buffer.subarray(0, count));
        }
      })(),
      what,
    );
  await telnet.write(new TextEncoder().encode("tina\r\n"));
  await readUntil("tina joined #lobby");
  received.length = 0;
  // Interrupt Process and DO TIMING-MARK: a telnet client discards all
  // output from here until the server answers WILL (or WONT) TIMING-MARK.
  await telnet.write(new Uint8Array([0xff, 0xf4, 0xff, 0xfd, 0x06]));
  await readUntil("quit)\n");
  // The answer comes first, then the words.
  assert.deepEqual(received.slice(0, 3), [0xff, 0xfb, 0x06]);
  assert.equal(
    new TextDecoder().decode(new Uint8Array(received.slice(3))),
    "*** Ctrl-C does not leave the chat: type /quit (in telnet, Ctrl-] and then quit)\n",
  );
});

Deno.test("client: a nickname taken while it was away can be traded for another", async () => {
  const first = await startServerProcess();
  const port = first.port;
  await using gina = new Program(
    "client.ts",
    ["--port", String(port), "--nick", "gina"],
    true,
  );
  await gina.stdout.expect("-- Connected to tern as gina", 15_000);
  first.child.kill("SIGTERM");
  assert.equal(await first.exit(), 0);
  await first[Symbol.asyncDispose]();
  await gina.stdout.expect(/reconnecting in/);
  // Someone else takes the name before the client is back.
  await using second = await startServerProcess(["--port", String(port)]);
  await using thief = await LineClient.text(second.port, "gina");
  await gina.stdout.expect(
    "!! gina is still taken (by your last connection, until the server notices it is gone, or by someone else); trying again. Type /nick NAME to come back as someone else.",
    15_000,
  );
  await gina.type("/nick gina2");
  await gina.stdout.expect("-- Connected to tern as gina2", 15_000);
  await thief.expect("*** gina2 joined #lobby");
  await gina.type("/quit");
  assert.equal(await gina.exit(), 0);
});
