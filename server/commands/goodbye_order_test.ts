/**
 * A goodbye the server gives (a kick, a ban, flood control's cut, a
 * nickname taken over, too many wrong passwords) waits behind the answers
 * the connection was already owed: without sockets, a real hub and
 * sessions whose socket records every line and its close.
 *
 * Each case handles the leaver's lines and then what ends it in one
 * synchronous run, as the server does when two connections' reads complete
 * in the same turn of the event loop: the leaver's message is accepted (and
 * reaches the others) but waits for the history's commit, and the goodbye
 * comes before that commit has run.
 */

import assert from "node:assert/strict";
import { Hub, type HubOptions } from "../hub.ts";
import { Session } from "../session.ts";
import { handleLine } from "./dispatch.ts";
import { takeOver } from "../nicknames.ts";
import type { Codec } from "../../protocol.ts";

/** The mark a peer's record gets when its socket is closed. */
const CLOSED = "<closed>";

/** A session whose socket records its lines, and its close, in order. */
interface Peer {
  session: Session;
  lines: string[];
}

/** A hub for one test; closes its history when disposed. */
function testHub(options: HubOptions = {}): Hub & Disposable {
  const hub = new Hub({
    operatorPassword: "op-pw",
    ...options,
    limits: { floodRate: 0, closeGraceMs: 1000, ...options.limits },
  }) as Hub & Disposable;
  hub[Symbol.dispose] = () => {
    for (const session of hub.sessions) session.closeSocket();
    hub.history.close();
  };
  return hub;
}

/** A session on `hub` from `address`, logged in as `nick` in `codec`. */
async function peer(
  hub: Hub,
  nick: string,
  codec: Codec,
  address = "127.0.0.1",
): Promise<Peer> {
  const lines: string[] = [];
  const decoder = new TextDecoder();
  const session = new Session({
    socket: {
      write: (bytes) => {
        lines.push(...decoder.decode(bytes).split("\n").filter(Boolean));
        return Promise.resolve(bytes.length);
      },
      close: () => void lines.push(CLOSED),
    },
    address,
    limits: hub.limits,
    onSendFailure: hub.sendFailed,
  });
  hub.sessions.add(session);
  await handleLine(
    hub,
    session,
    codec === "json" ? JSON.stringify({ type: "hello", nick }) : nick,
  );
  hub.commitNow();
  await session.outbound.idle();
  assert.equal(session.state, "active", `${nick} logged in`);
  return { session, lines };
}

/** An operator, logged in over JSON from `address`. */
async function operator(hub: Hub, address = "127.0.0.1"): Promise<Peer> {
  const op = await peer(hub, "op", "json", address);
  await handleLine(
    hub,
    op.session,
    JSON.stringify({ type: "oper", password: "op-pw" }),
  );
  hub.commitNow();
  assert.ok(op.session.isOp);
  return op;
}

/**
 * Hands `leaver` a room message and a request in one read, each owed an
 * answer: in JSON a message (ref `said`) and a ping (ref `asked`); in text
 * a room line, a private message to `to` (whose echo is the text client's
 * confirmation) and a ping. Returns where its record stood before.
 */
function sayAndAsk(hub: Hub, leaver: Peer, to: string): number {
  const start = leaver.lines.length;
  const lines = leaver.session.codec === "json"
    ? [
      JSON.stringify({ type: "message", text: "last words", ref: "said" }),
      JSON.stringify({ type: "ping", token: "t", ref: "asked" }),
    ]
    : ["last words", `/msg ${to} psst`, "/ping t"];
  for (const line of lines) {
    assert.equal(handleLine(hub, leaver.session, line), undefined);
  }
  return start;
}

/** What the leaver got from `start` on, as types (JSON) or lines (text). */
function told(leaver: Peer, start: number): string[] {
  return leaver.lines.slice(start).map((line) =>
    line.startsWith("{")
      ? `${JSON.parse(line).type}${
        JSON.parse(line).ref ? `:${JSON.parse(line).ref}` : ""
      }`
      : line
  );
}

/** The answers owed, then the goodbye with `code`, then the close. */
function owedThenBye(codec: Codec, code: string, to: string): RegExp[] {
  const bye = codec === "json"
    ? new RegExp(`^bye$`)
    : new RegExp(`^\\*\\*\\* Disconnected \\(${code}\\): `);
  return codec === "json"
    ? [/^message:said$/, /^pong:asked$/, bye, /^<closed>$/]
    : [
      new RegExp(`^\\*alice -> ${to}\\* psst$`),
      /^\*\*\* pong t$/,
      bye,
      /^<closed>$/,
    ];
}

/** Asserts the leaver's record from `start` matches `expected`, line by line. */
function assertTold(leaver: Peer, start: number, expected: RegExp[]): void {
  const got = told(leaver, start);
  assert.equal(
    got.length,
    expected.length,
    `expected ${expected.length} lines, got:\n${got.join("\n")}`,
  );
  for (const [i, pattern] of expected.entries()) {
    assert.match(got[i]!, pattern, `line ${i} of:\n${got.join("\n")}`);
  }
}

/** Whether `witness` heard alice's room line. */
function heard(witness: Peer): boolean {
  return witness.lines.some((line) => line.includes("last words"));
}

for (const codec of ["json", "text"] as const) {
  for (const bigRoomMembers of [0, 1]) {
    const where = bigRoomMembers === 0 ? "a small room" : "a big room";

    Deno.test(`${codec}, ${where}: a kick in the same turn as a message waits for its confirmation and the answers before it`, async () => {
      using hub = testHub({ limits: { bigRoomMembers } });
      const op = await operator(hub);
      const bob = await peer(hub, "bob", "json");
      const alice = await peer(hub, "alice", codec);
      const start = sayAndAsk(hub, alice, "bob");
      handleLine(
        hub,
        op.session,
        JSON.stringify({ type: "kick", nick: "alice", reason: "spamming" }),
      );
      await alice.session.finished;
      assertTold(alice, start, owedThenBye(codec, "kicked", "bob"));
      assert.ok(heard(bob), "the room got the message");
    });

    Deno.test(`${codec}, ${where}: a ban in the same turn as a message waits for its confirmation and the answers before it`, async () => {
      using hub = testHub({ limits: { bigRoomMembers } });
      const op = await operator(hub, "::1");
      const bob = await peer(hub, "bob", "json", "::1");
      const alice = await peer(hub, "alice", codec);
      const start = sayAndAsk(hub, alice, "bob");
      handleLine(
        hub,
        op.session,
        JSON.stringify({ type: "ban", target: "alice", duration: "10m" }),
      );
      await alice.session.finished;
      assertTold(alice, start, owedThenBye(codec, "banned", "bob"));
      assert.ok(heard(bob), "the room got the message");
    });

    Deno.test(`${codec}, ${where}: a nickname taken over in the same turn as a message: the old connection gets its confirmation first`, async () => {
      using hub = testHub({ limits: { bigRoomMembers } });
      const bob = await peer(hub, "bob", "json");
      const alice = await peer(hub, "alice", codec);
      const start = sayAndAsk(hub, alice, "bob");
      // What /identify does once the password is checked, from elsewhere.
      takeOver(hub, bob.session, "alice");
      await alice.session.finished;
      assertTold(alice, start, owedThenBye(codec, "taken_over", "bob"));
      assert.ok(heard(bob), "the room got the message");
    });

    Deno.test(`${codec}, ${where}: flood control's cut, in the read that accepted a message, comes after its confirmation`, async () => {
      using hub = testHub({
        limits: {
          bigRoomMembers,
          floodRate: 10,
          floodBurst: 10,
          floodDisconnectMs: 150,
        },
      });
      const bob = await peer(hub, "bob", "json");
      const alice = await peer(hub, "alice", codec);
      // A spell of pacing already past the cut-off, with tokens refilled
      // since (by the hub's clock) for the lines sayAndAsk sends and half
      // of one more: the state a flood leaves.
      const pacer = alice.session.flood!;
      const t0 = hub.now();
      for (let i = 0; i < 20; i++) pacer.admit(1, 10, t0);
      const said = codec === "json" ? 2 : 3;
      hub.now = () => t0 + (said + 0.5) * 100;
      const start = sayAndAsk(hub, alice, "bob");
      const cut = handleLine(hub, alice.session, "one line too many");
      assert.equal(alice.session.state, "closing", "cut in the same read");
      await cut;
      await alice.session.finished;
      assertTold(alice, start, owedThenBye(codec, "flood", "bob"));
      assert.ok(heard(bob), "the room got the message");
    });

    Deno.test(`${codec}, ${where}: too many wrong passwords, in the read that sent a message, end the connection after its confirmation`, async () => {
      using hub = testHub({
        limits: { bigRoomMembers, maxPasswordAttempts: 1 },
      });
      const bob = await peer(hub, "bob", "json");
      const alice = await peer(hub, "alice", codec);
      const start = sayAndAsk(hub, alice, "bob");
      handleLine(
        hub,
        alice.session,
        codec === "json"
          ? JSON.stringify({ type: "oper", password: "wrong" })
          : "/oper wrong",
      );
      await alice.session.finished;
      assertTold(alice, start, owedThenBye(codec, "bad_password", "bob"));
      assert.ok(heard(bob), "the room got the message");
    });

    Deno.test(`${codec}, ${where}: a deadline that falls due in the same turn as a message (idle, ping) ends the connection after its confirmation`, async () => {
      using hub = testHub({ limits: { bigRoomMembers } });
      const bob = await peer(hub, "bob", "json");
      const alice = await peer(hub, "alice", codec);
      const start = sayAndAsk(hub, alice, "bob");
      // What the server's deadline sweep does when one is due.
      hub.disconnect(alice.session, "timeout", "no answer to ping");
      await alice.session.finished;
      assertTold(alice, start, owedThenBye(codec, "timeout", "bob"));
      assert.ok(heard(bob), "the room got the message");
    });

    Deno.test(`${codec}, ${where}: a connection whose peer stopped sending (end of input) still gets what it was owed`, async () => {
      using hub = testHub({ limits: { bigRoomMembers } });
      const bob = await peer(hub, "bob", "json");
      const alice = await peer(hub, "alice", codec);
      const start = sayAndAsk(hub, alice, "bob");
      // What the read loop does when the peer half-closes after its lines.
      hub.disconnect(alice.session, "lost");
      await alice.session.finished;
      assertTold(
        alice,
        start,
        owedThenBye(codec, "lost", "bob").filter((_, i) => i !== 2),
      );
      assert.ok(heard(bob), "the room got the message");
    });
  }
}

Deno.test("a reader cut off as too slow gets its goodbye at once, and nothing that waited for it", async () => {
  using hub = testHub();
  const bob = await peer(hub, "bob", "json");
  const alice = await peer(hub, "alice", "json");
  const start = sayAndAsk(hub, alice, "bob");
  hub.disconnect(alice.session, "slow", "backlog over the limit");
  await alice.session.finished;
  assert.deepEqual(told(alice, start), ["bye", CLOSED]);
  assert.ok(heard(bob), "the room got the message");
});
