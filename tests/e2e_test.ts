/**
 * The real programs as users run them: `server.ts` and `client.ts` as
 * subprocesses under the permissions the README gives, the client driven
 * through its stdin, and a raw TCP client standing in for `nc`.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { LineClient, registerNick } from "./helpers.ts";
import {
  PERMISSIONS,
  Program,
  ROOT,
  startClient,
  startServerProcess,
  TerminalProgram,
} from "./programs.ts";

Deno.test("e2e: the client and an nc-style client talk through the server", async () => {
  await using server = await startServerProcess();
  await using nc = await LineClient.text(server.port, "bob");
  await using alice = startClient(server.port, "--nick", "alice");
  await alice.stdout.expect("-- Connected to tern as alice", 15_000);
  await nc.expect("*** alice joined #lobby");
  await alice.type("hello from the client");
  await nc.expect("<alice> hello from the client");
  await nc.send("hello from nc");
  await alice.stdout.expect(/^\d\d:\d\d <bob> hello from nc$/);
  await alice.type("/msg bob just for you");
  await nc.expect("*alice -> bob* just for you");
  await alice.stdout.expect(/-> \*bob\* just for you$/);
  await alice.type("/quit off to lunch");
  await nc.expect("*** alice left #lobby (quit: off to lunch)");
  assert.equal(await alice.exit(), 0);
  server.child.kill("SIGTERM");
  assert.equal(await server.exit(), 0);
  await nc.expect("*** Disconnected (shutdown): Server shutting down");
});

Deno.test("e2e: lines piped before login are sent after it; end of input quits", async () => {
  await using server = await startServerProcess();
  await using nc = await LineClient.text(server.port, "watcher");
  await using bot = startClient(server.port, "--nick", "piper");
  await bot.type("first");
  await bot.type("/me second");
  await bot.endInput();
  await nc.expect("<piper> first");
  await nc.expect("* piper second");
  await nc.expect("*** piper left #lobby (quit)");
  assert.equal(await bot.exit(), 0);
});

Deno.test("e2e: without --nick, the first line typed is the nickname", async () => {
  await using server = await startServerProcess();
  await using nc = await LineClient.text(server.port, "watcher");
  await using client = startClient(server.port);
  await client.type("dora");
  await client.type("hi");
  await nc.expect("*** dora joined #lobby");
  await nc.expect("<dora> hi");
  await client.type("/quit");
  assert.equal(await client.exit(), 0);
});

Deno.test("e2e: a killed client is removed and its room told", async () => {
  await using server = await startServerProcess();
  await using nc = await LineClient.text(server.port, "watcher");
  await using victim = startClient(server.port, "--nick", "victim");
  await nc.expect("*** victim joined #lobby", 15_000);
  victim.child.kill("SIGKILL");
  await victim.exit();
  await nc.expect("*** victim left #lobby (lost connection)");
  await nc.send("/who");
  await nc.expect("*** #lobby (1): watcher");
});

Deno.test("e2e: the client reconnects after a server restart and rejoins its room", async () => {
  const first = await startServerProcess();
  const port = first.port;
  await using alice = startClient(port, "--nick", "alice", "--room", "#ops");
  await alice.stdout.expect("-- Connected to tern as alice", 15_000);
  await alice.stdout.expect(/-- alice joined #ops$/);
  first.child.kill("SIGTERM");
  assert.equal(await first.exit(), 0);
  await first[Symbol.asyncDispose]();
  await alice.stdout.expect("-- Disconnected: Server shutting down");
  await alice.stdout.expect(/^-- Connection lost; reconnecting in/);
  await using second = await startServerProcess(["--port", String(port)]);
  await alice.stdout.expect("-- Connected to tern as alice", 20_000);
  await alice.stdout.expect(/-- alice joined #ops$/);
  await using nc = await LineClient.text(second.port, "watcher");
  await nc.send("/who #ops");
  await nc.expect("*** #ops (1): alice");
  await alice.type("/quit");
  assert.equal(await alice.exit(), 0);
});

Deno.test("e2e: bad flags and an unreachable server give one line and an exit code", async () => {
  for (
    const [script, args, code, pattern] of [
      ["client.ts", ["--port", "nope"], 2, /^client: --port must be/],
      [
        "client.ts",
        ["--frobnicate"],
        2,
        /^client: Unknown option '--frobnicate'/,
      ],
      ["server.ts", ["--max-line=-5"], 2, /^server: --max-line must be/],
      [
        "server.ts",
        ["--max-line", "-5"],
        2,
        /^server: Option '--max-line' argument is ambiguous/,
      ],
      [
        "server.ts",
        ["--write-timeout", "soon"],
        2,
        /^server: --write-timeout must be/,
      ],
      ["server.ts", ["--port", "70000"], 2, /^server: --port must be/],
    ] as const
  ) {
    await using program = new Program(script, [...args], false);
    assert.equal(await program.exit(15_000), code, `${script} ${args}`);
    assert.equal(
      program.stderr.received.length,
      1,
      program.stderr.received.join("\n"),
    );
    assert.match(program.stderr.received[0]!, pattern);
  }
  // A port nothing listens on: bind one, note it, close it.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const freePort = listener.addr.port;
  listener.close();
  await using client = startClient(freePort, "--nick", "x");
  assert.equal(await client.exit(15_000), 1);
  assert.match(
    client.stderr.received.join("\n"),
    /^client: cannot connect to 127\.0\.0\.1:\d+: Connection refused .*: no server is listening there; start one \(deno task start\) or give --host and --port of one that runs$/,
  );
  assert.equal(client.stderr.received.length, 1);
});

Deno.test("e2e: a port already in use is one line and exit 1", async () => {
  await using server = await startServerProcess();
  await using second = new Program("server.ts", [
    "--host",
    "127.0.0.1",
    "--port",
    String(server.port),
  ], false);
  assert.equal(await second.exit(15_000), 1);
  assert.match(
    second.stderr.received.join("\n"),
    /^server: cannot listen on 127\.0\.0\.1:\d+: /,
  );
});

Deno.test("e2e: in a terminal, incoming lines print above the unfinished input", async () => {
  await using server = await startServerProcess();
  await using bob = await LineClient.text(server.port, "bob");
  await using alice = new TerminalProgram(server.port, "alice");
  await alice.stdout.expect(
    (line) => line.includes("Connected to tern as alice"),
    15_000,
  );
  await bob.expect("*** alice joined #lobby");
  await alice.keys("hel");
  await alice.stdout.waitFor(
    () => alice.stdout.partial.endsWith("#lobby alice> hel\r\x1b[17C"),
    "the typed text on the input line",
  );
  await bob.send("incoming!");
  // The incoming line clears the input line, prints, then redraws the input.
  const incoming = await alice.stdout.expect((line) =>
    line.includes("<bob> incoming!")
  );
  assert.match(
    incoming,
    // deno-lint-ignore no-control-regex -- terminal output is the subject
    /alice> hel\r\x1b\[17C\r\x1b\[2K\d\d:\d\d <bob> incoming!\r$/,
  );
  await alice.stdout.waitFor(
    () => alice.stdout.partial.includes("#lobby alice> hel"),
    "the unfinished input redrawn below the incoming line",
  );
  await alice.keys("lo\r");
  await bob.expect("<alice> hello");
  await alice.keys("\x1b[A\x7f!\r"); // recall, backspace, edit, send
  await bob.expect("<alice> hell!");
  await alice.keys("\x03"); // Ctrl-C
  assert.equal(await alice.exit(), 0);
  await bob.expect("*** alice left #lobby (quit)");
});

Deno.test("e2e: in a terminal, Ctrl-D on an empty line quits with status 0", async () => {
  await using server = await startServerProcess();
  await using bob = await LineClient.text(server.port, "bob");
  await using alice = new TerminalProgram(server.port, "alice");
  await bob.expect("*** alice joined #lobby", 15_000);
  await alice.keys("x\x7f\x04");
  assert.equal(await alice.exit(), 0);
  await bob.expect("*** alice left #lobby (quit)");
});

Deno.test("e2e: the client over TLS with the right CA talks; with the wrong one exits 1", async () => {
  const fixtures = `${ROOT}/tests/fixtures`;
  await using server = await startServerProcess([
    "--port",
    "0",
    "--tls-cert",
    `${fixtures}/server.pem`,
    "--tls-key",
    `${fixtures}/server.key`,
    "--tls-port",
    "0",
  ]);
  const tlsLine = await server.stdout.expect(/ listening on .* \(TLS\)$/);
  const tlsPort = Number(tlsLine.match(/:(\d+) \(TLS\)$/)![1]);
  await using nc = await LineClient.text(server.port, "plain");
  await using alice = startClient(
    tlsPort,
    "--nick",
    "alice",
    "--tls",
    "--ca",
    `${fixtures}/ca.pem`,
  );
  await nc.expect("*** alice joined #lobby", 15_000);
  await alice.type("secret plans");
  await nc.expect("<alice> secret plans");
  await alice.type("/quit");
  assert.equal(await alice.exit(), 0);

  await using wrong = startClient(
    tlsPort,
    "--nick",
    "mallory",
    "--tls",
    "--ca",
    `${fixtures}/other-ca.pem`,
  );
  assert.equal(await wrong.exit(15_000), 1);
  assert.equal(wrong.stderr.received.length, 1);
  assert.match(
    wrong.stderr.received[0]!,
    /^client: cannot connect to .*: The server's certificate is not signed by a CA this client trusts \(.*UnknownIssuer\): give that CA's certificate with --ca FILE$/,
  );
});

Deno.test("e2e: a server password from the environment; the client gives it or exits 1", async () => {
  const server = new Program(
    "server.ts",
    ["--host", "127.0.0.1", "--port", "0"],
    false,
    {
      TERN_PASSWORD: "hunter22",
    },
  );
  try {
    const line = await server.stdout.expect(/ listening on /, 15_000);
    const port = Number(line.split(":").at(-1));
    await using refused = startClient(
      port,
      "--nick",
      "eve",
      "--password",
      "guess",
    );
    assert.equal(await refused.exit(15_000), 1);
    assert.match(
      refused.stderr.received.join("\n"),
      /^client: Wrong server password/,
    );
    await using bob = startClient(
      port,
      "--nick",
      "bob",
      "--password",
      "hunter22",
    );
    await bob.stdout.expect("-- Connected to tern as bob", 15_000);
    await bob.type("/quit");
    assert.equal(await bob.exit(), 0);
  } finally {
    await server[Symbol.asyncDispose]();
  }
});

Deno.test("e2e: the accept loop survives running out of file descriptors", async () => {
  // Few descriptors: the runtime itself uses some, so about a dozen
  // connections exhaust the rest and accept() starts failing.
  const deno = [
    Deno.execPath(),
    "run",
    ...PERMISSIONS["server.ts"]!,
    "server.ts",
  ];
  const command = `ulimit -n 48 && exec ${
    deno.map((w) => `'${w}'`).join(" ")
  } --host 127.0.0.1 --port 0 --max-per-address 0 --db :memory:`;
  await using server = new Program(["sh", "-c", command], [], false);
  const line = await server.stdout.expect(/ listening on /, 15_000);
  const port = Number(line.split(":").at(-1));
  const hogs: Deno.TcpConn[] = [];
  try {
    for (let i = 0; i < 60; i++) {
      hogs.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    }
    await server.stderr.expect(/accept_failed .*Too many open files/, 15_000);
  } finally {
    for (const hog of hogs) hog.close();
  }
  // With descriptors free again, a newcomer is served as usual.
  await using nc = await LineClient.connect(port);
  await nc.send("survivor");
  await nc.expect("*** survivor joined #lobby", 15_000);
});

Deno.test("e2e: after kill -9 under traffic, every message a client received is in the history", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tern-crash-" });
  const database = `${dir}/chat.db`;
  try {
    const first = await startServerProcess([
      "--port",
      "0",
      "--db",
      database,
      "--flood-rate",
      "0",
      // The blasting sender outpaces the reader; this test is about the
      // history, so the reader's queue may grow rather than cut it off.
      "--max-send-queue",
      "268435456",
    ]);
    const received: number[] = [];
    {
      await using reader = await LineClient.json(first.port, "reader");
      await using sender = await LineClient.text(first.port, "sender");
      const blasting = (async () => {
        for (let i = 0; i < 20_000 && !sender.ended; i++) {
          await sender.send(`message ${i}`).catch(() => {});
        }
      })();
      await reader.waitFor(
        (lines) =>
          lines.filter((line) => line.includes('"message"')).length > 300,
        "traffic to be flowing",
      );
      first.child.kill("SIGKILL");
      await first.exit();
      await first[Symbol.asyncDispose]();
      await reader.closed();
      await blasting;
      for (const line of reader.received) {
        if (!line.startsWith("{")) continue;
        const event = JSON.parse(line);
        if (event.type === "message") received.push(event.id);
      }
    }
    assert.ok(received.length > 300);
    // The restarted server opens the file cleanly and serves its history.
    await using second = await startServerProcess([
      "--port",
      "0",
      "--db",
      database,
    ]);
    await using bot = await LineClient.json(second.port, "bot");
    await bot.sendJson({ type: "history", limit: 1 });
    const newest = await bot.expectEvent(
      "history",
      (e) => e.messages.length === 1,
    );
    assert.ok(newest.messages[0]!.id >= received.at(-1)!);
    second.child.kill("SIGTERM");
    assert.equal(await second.exit(), 0);
    const file = new DatabaseSync(database, { readOnly: true });
    try {
      const integrity = file.prepare("PRAGMA integrity_check").get() as {
        integrity_check: string;
      };
      assert.equal(integrity.integrity_check, "ok");
      const stored = new Set(
        (file.prepare("SELECT id FROM messages").all() as Array<{ id: number }>)
          .map((row) => row.id),
      );
      const missing = received.filter((id) => !stored.has(id));
      assert.deepEqual(
        missing,
        [],
        `${missing.length} received messages are not stored`,
      );
    } finally {
      file.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("e2e: with no --db the server keeps its history in the user's data directory", async () => {
  const dataHome = await Deno.makeTempDir({ prefix: "tern-xdg-" });
  try {
    // Nothing on the command line about the database: only the environment.
    const deno = [
      Deno.execPath(),
      "run",
      ...PERMISSIONS["server.ts"]!,
      "server.ts",
    ];
    await using defaulted = new Program(
      [...deno, "--host", "127.0.0.1", "--port", "0"],
      [],
      false,
      { XDG_DATA_HOME: dataHome },
    );
    const line = await defaulted.stdout.expect(/ listening on /, 15_000);
    const port = Number(line.split(":").at(-1));
    await using alice = await LineClient.text(port, "alice");
    await alice.send("remember me");
    await alice.linesUntilPong();
    defaulted.child.kill("SIGTERM");
    assert.equal(await defaulted.exit(), 0);
    await using exporter = new Program(
      [
        Deno.execPath(),
        "task",
        "--quiet",
        "export-history",
        "--room",
        "#lobby",
      ],
      [],
      false,
      { XDG_DATA_HOME: dataHome },
    );
    assert.equal(await exporter.exit(15_000), 0);
    const lines = exporter.stdout.received.map((text) => JSON.parse(text));
    assert.deepEqual(
      lines.map((m) => [m.from, m.text]),
      [["alice", "remember me"]],
    );
  } finally {
    await Deno.remove(dataHome, { recursive: true });
  }
});

Deno.test("e2e: the client identifies a registered nickname from the environment", async () => {
  await using server = await startServerProcess([
    "--port",
    "0",
    "--password-iterations",
    "1000",
  ]);
  await registerNick(server.port, "alice", "alices password");
  await using nc = await LineClient.text(server.port, "watcher");
  const client = new Program(
    "client.ts",
    ["--port", String(server.port), "--nick", "alice"],
    true,
    { TERN_NICK_PASSWORD: "alices password" },
  );
  try {
    await client.stdout.expect("-- Connected to tern as alice", 15_000);
    await nc.expect("*** alice joined #lobby");
    await client.type("/quit");
    assert.equal(await client.exit(), 0);
  } finally {
    await client[Symbol.asyncDispose]();
  }
  await using wrong = new Program(
    "client.ts",
    ["--port", String(server.port), "--nick", "alice"],
    true,
    {},
  );
  assert.equal(await wrong.exit(15_000), 1);
  assert.match(
    wrong.stderr.received.join("\n"),
    /is registered.*TERN_NICK_PASSWORD/,
  );
});

Deno.test("deno task compile grants the binaries what start and client grant", () => {
  const config = JSON.parse(Deno.readTextFileSync(`${ROOT}/deno.json`));
  const [server, client] = String(config.tasks.compile).split("&&").map((
    part,
  ) => part.trim().split(/\s+/).filter((word) => word.startsWith("--allow-")));
  assert.deepEqual(server, PERMISSIONS["server.ts"]);
  assert.deepEqual(client, PERMISSIONS["client.ts"]);
});
