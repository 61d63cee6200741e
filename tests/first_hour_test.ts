/**
 * What an hour of ordinary use ran into: the registered-nickname prompt,
 * `/history` that answers every time, a message of the day that survives a
 * restart, `/rooms` that shows rooms with history, the log naming who failed
 * a TLS handshake, and `--help` that reads right and works for every task.
 */

import assert from "node:assert/strict";
import { ChatServer } from "../server.ts";
import { Logger } from "../server/log.ts";
import { limitsHelp } from "../server/limits.ts";
import { LineClient, startServer, within } from "./helpers.ts";
import { Program } from "./programs.ts";

/** A database file in a directory removed at the end of a `using` block. */
function temporaryDatabase(): { path: string } & Disposable {
  const dir = Deno.makeTempDirSync({ prefix: "tern-first-hour-" });
  return {
    path: `${dir}/chat.db`,
    [Symbol.dispose]: () => Deno.removeSync(dir, { recursive: true }),
  };
}

/** Registers `nick` with `password` on a throwaway connection. */
async function register(port: number, nick: string, password: string) {
  await using owner = await LineClient.text(port, nick);
  await owner.send(`/register ${password}`);
  await owner.expect(/now registered to you/);
}

Deno.test("prompt: /identify NICK PASSWORD works at the registered-nickname prompt", async () => {
  await using chat = await startServer({ passwordIterations: 1000 });
  await register(chat.port, "alice", "alices password");
  await using nc = await LineClient.connect(chat.port);
  await nc.send("alice");
  await nc.expect(/^\*\*\* Nickname alice is registered/);
  await nc.send("/identify alice alices password");
  await nc.expect("*** alice joined #lobby");
});

Deno.test("prompt: /identify NICK PASSWORD logs in straight away, as /help shows it", async () => {
  await using chat = await startServer({ passwordIterations: 1000 });
  await register(chat.port, "alice", "alices password");
  await using nc = await LineClient.connect(chat.port);
  await nc.send("/identify alice alices password");
  await nc.expect("*** alice joined #lobby");
  // A bot can do the same before its hello.
  await using bot = await LineClient.connect(chat.port);
  await bot.send(
    '{"type":"identify","nick":"ALICE","password":"alices password","ref":"i"}',
  );
  await bot.expect(/^\{"type":"welcome","nick":"alice".*"ref":"i"\}$/);
  await nc.expect(/^\*\*\* Disconnected \(taken_over\)/);
});

Deno.test("prompt: /identify NICK PASSWORD refuses a name nobody registered and a missing server password", async () => {
  await using chat = await startServer({ passwordIterations: 1000 });
  await using nc = await LineClient.connect(chat.port);
  await nc.send("/identify bob some password");
  await nc.expect("*** Error: Nickname bob is not registered");
  await nc.send("/identify somepassword");
  await nc.expect(
    "*** Error: Choose a registered nickname first, or send /identify NICK PASSWORD",
  );
  await nc.send("carol");
  await nc.expect("*** carol joined #lobby");
  await using locked = await startServer({ passwordIterations: 1000 }, {
    password: "server secret",
  });
  await register2(locked.port, "alice", "alices password");
  await using stranger = await LineClient.connect(locked.port);
  await stranger.send("/identify alice alices password");
  await stranger.expect("*** Error: This server needs a password");
  await stranger.send("/pass server secret");
  await stranger.expect(/^\*\*\* Password accepted/);
  await stranger.send("/identify alice alices password");
  await stranger.expect("*** alice joined #lobby");
});

/** Registers `nick` on a server with a server password ("server secret"). */
async function register2(port: number, nick: string, password: string) {
  await using owner = await LineClient.connect(port);
  await owner.send("/pass server secret");
  await owner.send(nick);
  await owner.expect(`*** ${nick} joined #lobby`);
  await owner.send(`/register ${password}`);
  await owner.expect(/now registered to you/);
}

Deno.test("prompt: a bad line at the registered-nickname prompt keeps the nickname waiting", async () => {
  await using chat = await startServer({ passwordIterations: 1000 });
  await register(chat.port, "alice", "alices password");
  await using nc = await LineClient.connect(chat.port);
  await nc.send("alice");
  await nc.expect(/^\*\*\* Nickname alice is registered/);
  await nc.send("not a nickname!");
  await nc.expect(
    "*** Error: To use alice, send /identify PASSWORD; to choose another nickname, send /nick NAME",
  );
  await nc.send("/identify alices password");
  await nc.expect("*** alice joined #lobby");
});

Deno.test("prompt: a password typed alone at the registered-nickname prompt is never shown as a nickname", async () => {
  await using chat = await startServer({ passwordIterations: 1000 });
  await register(chat.port, "alice", "hunter2hunter2");
  await using bob = await LineClient.text(chat.port, "bob");
  await using nc = await LineClient.connect(chat.port);
  await nc.send("alice");
  await nc.expect(/^\*\*\* Nickname alice is registered/);
  await nc.send("hunter2hunter2");
  await nc.expect(/^\*\*\* Error: To use alice, send \/identify PASSWORD/);
  await nc.send("/nick carol");
  await nc.expect("*** carol joined #lobby");
  await bob.expect("*** carol joined #lobby");
  const seen = [...bob.received, ...nc.received].join("\n");
  assert.ok(!seen.includes("hunter2hunter2 joined"), seen);
});

Deno.test("history: every /history answers, and a page names the next one", async () => {
  await using chat = await startServer();
  await using alice = await LineClient.text(chat.port, "alice");
  const answers: Array<[string, string | RegExp]> = [
    ["/history", "*** No messages in #lobby"],
    ["/history before 3", "*** No messages in #lobby before 3"],
    ["/history #nonexistent", "*** No messages in #nonexistent"],
    ["/history 0", /^\*\*\* Error: .*N is how many messages, from 1 to 200$/],
  ];
  for (const [command, answer] of answers) {
    await alice.send(command);
    await alice.expect(answer);
  }
  for (let i = 1; i <= 5; i++) await alice.send(`message ${i}`);
  await alice.send("/history 2");
  await alice.expect(
    /^\*\*\* History of #lobby: 2 messages, the latest, \d{4}-\d\d-\d\d \(UTC\)$/,
  );
  await alice.expect(/^\*\*\* \d{4}-\d\d-\d\d \(UTC\)$/);
  await alice.expect(/^\[\d\d:\d\d:\d\d\] <alice> message 4$/);
  await alice.expect(/^\[\d\d:\d\d:\d\d\] <alice> message 5$/);
  const next = await alice.expect(/^\*\*\* Older messages: /);
  const command = next.slice("*** Older messages: ".length);
  assert.match(command, /^\/history #lobby before \d+$/);
  await alice.send(`${command} 10`);
  await alice.expect(/^\*\*\* History of #lobby: 3 messages, older than \d+, /);
  await alice.expect(/<alice> message 1$/);
  await alice.expect(/<alice> message 3$/);
  await alice.expect("*** That is the start of #lobby");
});

Deno.test("motd: a message of the day set with /motd survives a restart", async () => {
  using db = temporaryDatabase();
  {
    await using chat = await startServer({}, {
      database: db.path,
      operatorPassword: "op-pw",
    });
    await using op = await LineClient.text(chat.port, "op");
    await op.send("/oper op-pw");
    await op.expect("*** You are now an operator");
    await op.send("/motd Welcome back, everyone");
    await op.expect("*** Message of the day set");
  }
  await using chat = await startServer({}, { database: db.path });
  await using nc = await LineClient.connect(chat.port);
  await nc.send("bob");
  await nc.expect("*** Message of the day:");
  await nc.expect("***   Welcome back, everyone");
});

Deno.test("rooms: /rooms lists rooms that have history but nobody in them", async () => {
  using db = temporaryDatabase();
  {
    await using chat = await startServer({}, { database: db.path });
    await using alice = await LineClient.text(chat.port, "alice");
    await alice.send("/join #old");
    await alice.expect("*** alice joined #old");
    await alice.send("remember this room");
    await alice.linesUntilPong();
  }
  await using chat = await startServer({}, { database: db.path });
  await using bob = await LineClient.text(chat.port, "bob");
  await bob.send("/join #fresh");
  await bob.expect("*** bob joined #fresh");
  await bob.send("/part");
  await bob.expect("*** Now talking in #lobby");
  await bob.send("/rooms");
  const rooms = await bob.expect(/^\*\*\* Rooms \(2\): /);
  assert.match(rooms, /^\*\*\* Rooms \(2\): #lobby \(1\b.*, #old \(0\)$/);
});

Deno.test("log: a failed TLS handshake names the address it came from", async () => {
  const fixture = (name: string) =>
    Deno.readTextFileSync(new URL(`./fixtures/${name}`, import.meta.url));
  let logged: (line: string) => void = () => {};
  const failure = new Promise<string>((resolve) => logged = resolve);
  const server = new ChatServer({
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert: fixture("server.pem"), key: fixture("server.key"), port: 0 },
    limits: { closeGraceMs: 200 },
    logger: new Logger("debug", "json", (line) => {
      if (line.includes("tls_handshake_failed")) logged(line);
    }),
  });
  const { tls } = await server.start();
  try {
    await using confused = await LineClient.connect(tls!.port);
    await confused.send("alice");
    await confused.closed();
    const line = await within(failure, "the handshake failure to be logged");
    assert.equal(JSON.parse(line).address, "127.0.0.1");
  } finally {
    await server.close();
  }
});

Deno.test("help: long limit flags keep a space before their description", () => {
  for (const line of limitsHelp().split("\n")) {
    assert.doesNotMatch(line, /^ {2}--\S+ [A-Z]+[a-z]/, line);
  }
  assert.match(
    limitsHelp(),
    /--max-password-attempts COUNT\n {30}wrong passwords \(server, nickname or operator\)/,
  );
});

Deno.test("help: every task answers --help", async () => {
  for (
    const task of [
      "export-history",
      "soak",
      "bench-churn",
      "bench",
      "start",
      "client",
    ]
  ) {
    await using program = new Program(
      [Deno.execPath(), "task", "--quiet", task, "--help"],
      [],
      false,
    );
    assert.equal(await program.exit(30_000), 0, task);
    assert.match(program.stdout.received[0] ?? "", /^Usage: /, task);
  }
});

Deno.test("tasks: start and client need nothing from npm, on a machine that has never fetched it", async () => {
  // A fresh Deno cache and an npm registry that refuses every connection:
  // `deno task` must not try to install the tests' browser or Redis client
  // before starting the chat.
  const cache = await Deno.makeTempDir({ prefix: "tern-no-npm-" });
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const registry = `http://127.0.0.1:${closed.addr.port}/`;
  closed.close();
  try {
    for (const task of ["start", "client"]) {
      await using program = new Program(
        [Deno.execPath(), "task", "--quiet", task, "--help"],
        [],
        false,
        { DENO_DIR: cache, NPM_CONFIG_REGISTRY: registry },
      );
      const code = await program.exit(60_000);
      assert.equal(code, 0, `${task}: ${program.stderr.received.join("\n")}`);
      assert.match(program.stdout.received[0] ?? "", /^Usage: /, task);
    }
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("identify: a name nobody registered is named in the error, with what to do", async () => {
  await using chat = await startServer({ passwordIterations: 1000 });
  await using alice = await LineClient.text(chat.port, "alice");
  await alice.send("/identify bob somepassword");
  await alice.expect(
    "*** Error: Nickname bob is not registered, nor is yours (alice); /register PASSWORD claims yours",
  );
  await alice.send("/identify somepassword");
  await alice.expect(
    "*** Error: Nickname alice is not registered; /register PASSWORD claims yours",
  );
});

Deno.test("drop: /drop of a name nobody registered says so, not who may drop it", async () => {
  await using chat = await startServer();
  await using bob = await LineClient.text(chat.port, "bob");
  await bob.send("/drop alice");
  await bob.expect("*** Error: Nickname alice is not registered");
});

Deno.test("/who past the last member says so; /history of two rooms is a usage error", async () => {
  await using chat = await startServer();
  await using ann = await LineClient.text(chat.port, "ann");
  await using _bob = await LineClient.text(chat.port, "bob");
  await ann.send("/who #lobby after zzz");
  await ann.expect(
    "*** #lobby (2): no members after that name; /who #lobby starts from the top",
  );
  await ann.send("/join #a");
  await ann.expect("*** ann joined #a");
  await ann.send("/history #a #lobby");
  await ann.expect(
    "*** Error: Usage: /history [#ROOM|@NICK] [before ID] [N]: one room or one nickname at a time",
  );
});
