/**
 * The terminal client in ordinary use: when it must not come back (kicked,
 * nickname taken over), what it says at a TLS port or with a bad room, lines
 * typed during an outage, resuming without duplicates, pasting at the
 * server's pace, and a resized terminal.
 */

import assert from "node:assert/strict";
import {
  LineClient,
  LineStream,
  registerNick,
  seatMembers,
  startServer,
  within,
} from "./helpers.ts";
import { DEFAULT_LIMITS } from "../server/limits.ts";
import {
  Program,
  ROOT,
  startClient,
  startServerProcess,
  TerminalProgram,
} from "./programs.ts";

Deno.test("client: after a kick it says why and exits 1 without coming back", async () => {
  await using server = await startServerProcess(
    ["--port", "0"],
    { TERN_OP_PASSWORD: "op-pw" },
  );
  await using op = await LineClient.text(server.port, "op");
  await op.send("/oper op-pw");
  await op.expect("*** You are now an operator");
  await using alice = startClient(server.port, "--nick", "alice");
  await op.expect("*** alice joined #lobby", 15_000);
  await op.send("/kick alice enough");
  assert.equal(await alice.exit(), 1);
  const said = alice.stdout.received.join("\n");
  assert.match(said, /Kicked by op: enough/);
  assert.match(said, /Not reconnecting: an operator removed you/);
  assert.doesNotMatch(said, /reconnecting in/);
  assert.match(alice.stderr.received.join("\n"), /^client: Kicked by op/);
});

Deno.test("client: two clients on one registered nickname do not take it from each other", async () => {
  await using server = await startServerProcess([
    "--port",
    "0",
    "--password-iterations",
    "1000",
  ]);
  await registerNick(server.port, "alice", "alices password");
  await using watcher = await LineClient.text(server.port, "watcher");
  const env = { TERN_NICK_PASSWORD: "alices password" };
  await using first = new Program(
    "client.ts",
    ["--port", String(server.port), "--nick", "alice"],
    true,
    env,
  );
  await first.stdout.expect("-- Connected to tern as alice", 15_000);
  await using second = new Program(
    "client.ts",
    ["--port", String(server.port), "--nick", "alice"],
    true,
    env,
  );
  await second.stdout.expect("-- Connected to tern as alice", 15_000);
  // The displaced client stops instead of taking the nickname back.
  assert.equal(await first.exit(), 1);
  assert.match(
    first.stdout.received.join("\n"),
    /alice logged in from 127\.0\.0\.1 .*took over.*Not reconnecting/s,
  );
  const seen = await watcher.linesUntilPong();
  assert.deepEqual(seen.filter((l) => l.includes("alice")), [
    "*** alice joined #lobby",
    "*** alice left #lobby (quit: reconnected from elsewhere)",
    "*** alice joined #lobby",
  ]);
  await second.type("/who");
  await second.stdout.expect(/^-- #lobby \(2\): alice, watcher$/);
  await second.type("/quit");
  assert.equal(await second.exit(), 0);
});

Deno.test("client: --room with a bad name is an error and exit 2", async () => {
  await using client = new Program(
    "client.ts",
    ["--port", "1", "--room", "bad room"],
    true,
  );
  assert.equal(await client.exit(15_000), 2);
  assert.deepEqual(client.stderr.received, [
    "client: --room bad room: Room name may hold only letters, digits, _ and - after its # (see --help)",
  ]);
});

Deno.test("client: pointed at a TLS port without --tls it says so and exits 1", async () => {
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
  for (const args of [["--nick", "alice"], []]) {
    await using plain = startClient(tlsPort, ...args);
    assert.equal(await plain.exit(15_000), 1, args.join(" "));
    assert.deepEqual(plain.stderr.received, [
      "client: This port speaks TLS: add --tls",
    ]);
  }
});

Deno.test("client: with --tls at a plain port it says the port does not speak TLS and exits 1", async () => {
  await using server = await startServerProcess(["--port", "0"]);
  await using client = startClient(server.port, "--tls", "--nick", "alice");
  assert.equal(await client.exit(15_000), 1);
  assert.deepEqual(client.stderr.received, [
    `client: cannot connect to 127.0.0.1:${server.port}: This port does not speak TLS: drop --tls, or give the server's TLS port (7443 by default)`,
  ]);
});

Deno.test("client: after a reconnect it shows only what it missed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tern-resume-" });
  try {
    const args = ["--port", "0", "--db", `${dir}/chat.db`];
    const first = await startServerProcess(args);
    const port = first.port;
    await using alice = startClient(port, "--nick", "alice");
    {
      await using bob = await LineClient.text(port, "bob");
      await alice.stdout.expect("-- Connected to tern as alice", 15_000);
      await bob.send("one");
      await bob.send("two");
      await alice.stdout.expect(/<bob> two$/);
      first.child.kill("SIGTERM");
      assert.equal(await first.exit(), 0);
      await first[Symbol.asyncDispose]();
    }
    await alice.stdout.expect(/^-- Connection lost; reconnecting in/);
    await using second = await startServerProcess([
      "--port",
      String(port),
      "--db",
      `${dir}/chat.db`,
    ]);
    await using bob = await LineClient.text(second.port, "bob");
    await alice.stdout.expect("-- Connected to tern as alice", 20_000);
    await bob.send("three");
    await alice.stdout.expect(/<bob> three$/);
    const shown = alice.stdout.received.filter((l) => /<bob> /.test(l));
    assert.deepEqual(
      shown.map((l) => l.replace(/^.*<bob> /, "")),
      ["one", "two", "three"],
      "nothing shown twice",
    );
    await alice.type("/quit");
    assert.equal(await alice.exit(), 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * A stand-in server that welcomes with a pace and records when each message
 * arrives, to see how the client sends a paste.
 */
function pacedServer(
  pace: { lines: number; burst: number },
  expected: number,
): { port: number; arrivals: Promise<Array<[number, string]>> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const arrivals = (async () => {
    const conn = await listener.accept();
    listener.close();
    const lines = new LineStream(conn.readable);
    const times: Array<[number, string]> = [];
    const write = (value: unknown) =>
      conn.write(new TextEncoder().encode(JSON.stringify(value) + "\n"));
    try {
      await lines.expect((line) => line.includes('"hello"'));
      await write({
        type: "welcome",
        nick: "paster",
        server: "stand-in",
        version: 1,
        rate: pace,
      });
      let read = 0;
      await lines.waitFor(
        () => {
          for (; read < lines.received.length; read++) {
            const line = lines.received[read]!;
            if (!line.startsWith("{")) continue;
            const request = JSON.parse(line);
            if (request.type === "message") {
              times.push([Date.now(), request.text]);
            }
          }
          return times.length >= expected;
        },
        `${expected} messages`,
        15_000,
      );
      return times;
    } finally {
      conn.close();
      await lines.done;
    }
  })();
  return { port: (listener.addr as Deno.NetAddr).port, arrivals };
}

Deno.test("client: a paste goes out at the pace the server announces, every line in order", async () => {
  const count = 30;
  const stand = pacedServer({ lines: 20, burst: 5 }, count);
  await using paster = startClient(stand.port, "--nick", "paster");
  const pasted = Array.from({ length: count }, (_, i) => `line ${i + 1}`);
  await paster.write(new TextEncoder().encode(pasted.join("\n") + "\n"));
  const arrivals = await within(stand.arrivals, "the paste", 15_000);
  assert.deepEqual(arrivals.map(([, text]) => text), pasted);
  const span = arrivals.at(-1)![0] - arrivals[0]![0];
  // After a burst of 4, the rest at no more than 18 a second: over 1.4 s.
  assert.ok(span >= 1200, `the paste took only ${span} ms`);
  await paster.stdout.expect(
    "-- Sending at the server's pace (20 lines a second): every line goes, in order",
  );
  await paster.endInput();
  await paster.exit(15_000);
});

Deno.test("client: a typed command's refusal names the command one types, not a request type", async () => {
  await using chat = await startServer();
  await using alice = startClient(chat.port, "--nick", "alice");
  await alice.stdout.expect("-- Connected to tern as alice", 15_000);
  await alice.type("/part");
  await alice.stdout.expect(
    /You are in #lobby, where everyone starts; \/quit leaves the chat$/,
  );
  await alice.endInput();
  await alice.exit(15_000);
});

Deno.test("client: lines typed during an outage are counted, and Ctrl-C asks first", async () => {
  const first = await startServerProcess();
  const port = first.port;
  await using alice = new TerminalProgram(port, "alice");
  await alice.stdout.expect(
    (line) => line.includes("Connected to tern as alice"),
    15_000,
  );
  first.child.kill("SIGTERM");
  assert.equal(await first.exit(), 0);
  await first[Symbol.asyncDispose]();
  await alice.stdout.expect((line) => line.includes("reconnecting in"));
  await alice.keys("sent later\r");
  await alice.stdout.waitFor(
    () => alice.stdout.partial.includes("(1 queued) #lobby alice> "),
    "the queued count in the prompt",
  );
  await alice.keys("\x03");
  await alice.stdout.expect((line) =>
    line.includes(
      "1 line has not been sent yet. Press Ctrl-C again to discard and quit",
    )
  );
  await using second = await startServerProcess(["--port", String(port)]);
  await using bob = await LineClient.text(second.port, "bob");
  await bob.expect("<alice> sent later", 20_000);
  await alice.keys("\x03");
  assert.equal(await alice.exit(), 0);
});

Deno.test("client: in a terminal, a registered nickname's password is asked for in words", async () => {
  await using server = await startServerProcess([
    "--port",
    "0",
    "--password-iterations",
    "1000",
  ]);
  await registerNick(server.port, "alice", "alices password");
  await using alice = new TerminalProgram(server.port, "alice");
  const ask = await alice.stdout.expect(
    (line) => line.includes("needs its password"),
    15_000,
  );
  assert.doesNotMatch(ask, /hello|"identify"/);
  await alice.stdout.waitFor(
    () => alice.stdout.partial.includes("password for alice> "),
    "the password prompt",
  );
  await alice.keys("alices password\r");
  await alice.stdout.expect((line) =>
    line.includes("Connected to tern as alice")
  );
  await alice.keys("\x03");
  assert.equal(await alice.exit(), 0);
});

/** The deno process under `script`, found with `ps`, and its terminal. */
async function clientUnderScript(
  root: number,
): Promise<{ pid: number; tty: string }> {
  const { stdout } = await new Deno.Command("ps", {
    args: ["-e", "-o", "pid=,ppid=,tty=,args="],
  }).output();
  const rows = new TextDecoder().decode(stdout).trim().split("\n").map(
    (row) => {
      const [pid, ppid, tty, ...args] = row.trim().split(/\s+/);
      return { pid: Number(pid), ppid: Number(ppid), tty: tty!, args };
    },
  );
  const queue = [root];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const row of rows.filter((r) => r.ppid === parent)) {
      if (row.args.includes("client.ts")) {
        return { pid: row.pid, tty: `/dev/${row.tty}` };
      }
      queue.push(row.pid);
    }
  }
  throw new Error("no client under script");
}

/** Sets a terminal's width, as resizing its window does (SIGWINCH follows). */
async function setColumns(tty: string, columns: number): Promise<void> {
  const { code } = await new Deno.Command("stty", {
    args: ["-F", tty, "cols", String(columns), "rows", "24"],
  }).output();
  assert.equal(code, 0, `stty -F ${tty} cols ${columns}`);
}

Deno.test("client: in a terminal, a resize erases the wrapped input and redraws it", async () => {
  await using server = await startServerProcess();
  await using alice = new TerminalProgram(server.port, "alice");
  await alice.stdout.expect(
    (line) => line.includes("Connected to tern as alice"),
    15_000,
  );
  const { tty } = await clientUnderScript(alice.child.pid);
  await setColumns(tty, 40);
  await alice.keys("x".repeat(60));
  // 40 columns: the prompt (14) and the last 25 characters typed.
  await alice.stdout.waitFor(
    () =>
      alice.stdout.partial.endsWith(
        `#lobby alice> ${"x".repeat(24)}\r\x1b[38C`,
      ),
    "the line drawn for 40 columns",
  );
  const before = alice.stdout.partial.length;
  await setColumns(tty, 30);
  // The 38-column line now wraps onto two rows: up one, clear, redraw.
  await alice.stdout.waitFor(
    () =>
      alice.stdout.partial.slice(before).includes(
        `\x1b[1A\r\x1b[J\r\x1b[2K#lobby alice> ${"x".repeat(14)}\r\x1b[28C`,
      ),
    "the wrapped line erased and redrawn for 30 columns",
  );
  await alice.keys("\x15\x03");
  assert.equal(await alice.exit(), 0);
});

Deno.test("client: /help marks the operators' commands", async () => {
  await using server = await startServerProcess();
  await using alice = startClient(server.port, "--nick", "alice");
  await alice.type("/help");
  await alice.stdout.expect(/^-- \/kick .* \(operators\)$/, 15_000);
  await alice.type("/quit");
  assert.equal(await alice.exit(), 0);
});

Deno.test("client: /history always answers, says which page, and how to get the next", async () => {
  await using server = await startServerProcess();
  await using alice = startClient(server.port, "--nick", "alice");
  await alice.stdout.expect("-- Connected to tern as alice", 15_000);
  await alice.type("/history");
  await alice.stdout.expect("-- No messages in #lobby");
  await alice.type("one");
  await alice.type("two");
  await alice.type("/history 1");
  await alice.stdout.expect("-- History of #lobby, the latest:");
  await alice.stdout.expect(/<alice> two$/);
  const next = await alice.stdout.expect(/^-- Older messages: /);
  await alice.type(next.slice("-- Older messages: ".length));
  await alice.stdout.expect(/^-- History of #lobby, older than \d+:$/);
  await alice.stdout.expect(/<alice> one$/);
  await alice.stdout.expect("-- That is the start of #lobby");
  await alice.type("/quit");
  assert.equal(await alice.exit(), 0);
});

Deno.test("client: /who more shows the page after the last one, and says when there is none", async () => {
  await using chat = await startServer();
  seatMembers(chat.server, 150);
  await using alice = startClient(chat.port, "--nick", "alice");
  await alice.stdout.expect("-- Connected to tern as alice", 15_000);
  await alice.type("/who more");
  await alice.stdout.expect(/^!! No \/who page to go on from/);
  await alice.type("/who");
  const first = await alice.stdout.expect(/^-- #lobby \(151\): alice, /);
  assert.match(first, /; more: \/who #lobby after m00098$/);
  await alice.type("/who more");
  const second = await alice.stdout.expect(/^-- #lobby \(151\): /);
  assert.match(second, /^-- #lobby \(151\): m00099, m00100, .*, m00149$/);
  await alice.type("/who more");
  await alice.stdout.expect(
    "!! That was the last page of #lobby; /who #lobby starts from the top",
  );
  await alice.type("/quit");
  assert.equal(await alice.exit(), 0);
});

Deno.test("client: piped /who more lines list a room of 10,000 whole, under the default flood control, unpaced", async () => {
  await using chat = await startServer({
    floodRate: DEFAULT_LIMITS.floodRate,
    floodBurst: DEFAULT_LIMITS.floodBurst,
    floodBurstBytes: DEFAULT_LIMITS.floodBurstBytes,
    floodByteRate: DEFAULT_LIMITS.floodByteRate,
    maxConnections: 10_010,
  });
  seatMembers(chat.server, 9_999);
  await using bot = startClient(chat.port, "--nick", "bot");
  // All at once, before login: each /who more goes on from the page before
  // it, so it is decided when that page has come.
  await bot.write(
    new TextEncoder().encode("/who\n" + "/who more\n".repeat(99)),
  );
  const pages: string[] = [];
  await bot.stdout.waitFor(
    (lines) => {
      pages.length = 0;
      pages.push(...lines.filter((line) => line.startsWith("-- #lobby (")));
      return pages.length >= 100 ||
        lines.some((line) => line.startsWith("!!"));
    },
    "a hundred pages",
    60_000,
  );
  const said = bot.stdout.received;
  assert.deepEqual(said.filter((line) => line.startsWith("!!")), []);
  assert.deepEqual(
    said.filter((line) => /Pasting|sending faster/.test(line)),
    [],
    "neither the client nor the server paced the pages",
  );
  const names = pages.flatMap((line) =>
    /^-- #lobby \(10000\): (.*?)(?:; more: .*)?$/.exec(line)![1]!.split(", ")
  );
  assert.equal(names.length, 10_000);
  assert.equal(new Set(names).size, 10_000);
  assert.match(pages.at(-1)!, /m09998$/);
  await bot.type("/quit");
  assert.equal(await bot.exit(), 0);
});

Deno.test("client: a server password it was not given is asked for in words", async () => {
  await using server = await startServerProcess(["--port", "0"], {
    TERN_PASSWORD: "hunter22",
  });
  await using piped = startClient(server.port, "--nick", "eve");
  assert.equal(await piped.exit(15_000), 1);
  assert.deepEqual(piped.stderr.received, [
    "client: This server needs a password (give it with --password or $TERN_PASSWORD)",
  ]);
  await using typed = new TerminalProgram(server.port, "eve");
  const ask = await typed.stdout.expect(
    (line) => line.includes("This server needs a password"),
    15_000,
  );
  assert.doesNotMatch(ask, /hello|"password"/);
  await typed.keys("hunter22\r");
  await typed.stdout.expect((line) =>
    line.includes("Connected to tern as eve")
  );
  await typed.keys("\x03");
  assert.equal(await typed.exit(), 0);
});
