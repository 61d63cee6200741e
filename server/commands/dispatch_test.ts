/**
 * Dispatch without sockets: a real hub (in-memory history) and sessions whose
 * socket is an array of lines, so the policy checks and the handler table are
 * tested directly.
 */

import assert from "node:assert/strict";
import { Hub, type HubOptions } from "../hub.ts";
import { Session } from "../session.ts";
import { dispatch, handleLine, HANDLERS } from "./dispatch.ts";
import { recordingSession } from "../../tests/helpers.ts";
import { REQUESTS, type ServerEvent } from "../../protocol.ts";

/** A session whose writes land in `events`, decoded (it speaks JSON). */
interface Peer {
  session: Session;
  events: ServerEvent[];
}

/** A hub for one test; closes its history when disposed. */
function testHub(options: HubOptions = {}): Hub & Disposable {
  const hub = new Hub({ limits: { floodRate: 0 }, ...options }) as
    & Hub
    & Disposable;
  hub[Symbol.dispose] = () => {
    for (const session of hub.sessions) session.closeSocket();
    hub.history.close();
  };
  return hub;
}

/** A JSON-mode session on `hub`, logged in as `nick` unless null. */
function peer(hub: Hub, nick: string | null): Peer {
  const { session, events } = recordingSession(hub);
  if (nick !== null) {
    handleLine(hub, session, JSON.stringify({ type: "hello", nick }));
  }
  return { session, events };
}

/** Sends one JSON line and returns what came back for it. */
async function send(hub: Hub, from: Peer, request: object): Promise<void> {
  await handleLine(hub, from.session, JSON.stringify(request));
  hub.commitNow();
  await from.session.outbound.idle();
}

/** The last event of `type` a peer got. */
function last<T extends ServerEvent["type"]>(
  from: Peer,
  type: T,
): ServerEvent & { type: T } {
  const found = from.events.findLast((event) => event.type === type);
  assert.ok(found, `no ${type} among ${JSON.stringify(from.events)}`);
  return found as ServerEvent & { type: T };
}

Deno.test("every row of the command table has a handler, and nothing else does", () => {
  assert.deepEqual(
    Object.keys(HANDLERS).sort(),
    Object.keys(REQUESTS).sort(),
  );
});

Deno.test("before login, a row not usable before login is refused before its handler", async () => {
  using hub = testHub();
  const fresh = peer(hub, null);
  await send(hub, fresh, { type: "join", room: "#dev", ref: "j" });
  const error = last(fresh, "error");
  assert.equal(error.code, "not_ready");
  assert.equal(error.ref, "j");
  assert.equal(hub.rooms.size, 0, "no room was made");
  await send(hub, fresh, { type: "help", ref: "h" });
  assert.equal(last(fresh, "help").ref, "h");
});

Deno.test("operator rows are refused to others; reading a topic is not an operator act", async () => {
  using hub = testHub({ operatorPassword: "op-pw" });
  const alice = peer(hub, "alice");
  const bob = peer(hub, "bob");
  await send(hub, alice, { type: "kick", nick: "bob" });
  assert.equal(last(alice, "error").code, "not_permitted");
  assert.equal(bob.session.state, "active");
  await send(hub, alice, { type: "topic", text: "mine now" });
  assert.match(last(alice, "error").message, /Only operators may send "topic"/);
  await send(hub, alice, { type: "topic" });
  assert.equal(last(alice, "topic").topic, "");
  await send(hub, alice, { type: "oper", password: "op-pw" });
  await send(hub, alice, { type: "topic", text: "mine now" });
  assert.equal(last(bob, "topic").topic, "mine now");
});

Deno.test("flood control paces a line past the burst instead of refusing it; a flood-exempt row never waits", async () => {
  using hub = testHub({ limits: { floodRate: 20, floodBurst: 1 } });
  const alice = peer(hub, "alice");
  await send(hub, alice, { type: "message", text: "one" });
  const paced = handleLine(
    hub,
    alice.session,
    JSON.stringify({ type: "message", text: "two", ref: "m2" }),
  );
  assert.ok(paced instanceof Promise, "the line waits its turn");
  const exempt = handleLine(
    hub,
    alice.session,
    JSON.stringify({ type: "pong", token: "t" }),
  );
  assert.equal(exempt, undefined, "a pong does not wait");
  await paced;
  hub.commitNow();
  await alice.session.outbound.idle();
  assert.equal(alice.events.filter((e) => e.type === "error").length, 0);
  const two = last(alice, "message");
  assert.equal(two.text, "two");
  assert.match(last(alice, "notice").text, /^You are sending faster than 20/);
  await send(hub, alice, { type: "quit" });
  assert.equal(alice.session.state, "closing");
});

Deno.test("a reply waits behind the message accepted before it", async () => {
  using hub = testHub();
  const alice = peer(hub, "alice");
  await send(hub, alice, { type: "rooms" });
  alice.events.length = 0;
  // Two requests in one read: the message is stored and delivered first.
  await handleLine(hub, alice.session, '{"type":"message","text":"hi"}');
  await handleLine(hub, alice.session, '{"type":"ping","token":"p"}');
  hub.commitNow();
  await alice.session.outbound.idle();
  assert.deepEqual(alice.events.map((e) => e.type), ["message", "pong"]);
});

Deno.test("dispatch runs a decoded request straight from its row", async () => {
  using hub = testHub();
  const alice = peer(hub, "alice");
  await dispatch(hub, alice.session, { type: "join", room: "#dev" });
  assert.equal(alice.session.current?.name, "#dev");
});

/** The ref an event carries, if any. */
function refOf(event: ServerEvent): unknown {
  return (event as { ref?: unknown }).ref;
}

/**
 * Requests each answered with something carrying their ref: a reply, an
 * error, or the asker's own copy of the news it made. A line that is no
 * request is answered too.
 */
const ASKED: ReadonlyArray<[string, object]> = [
  ["help", { type: "help" }],
  ["topic", { type: "topic" }],
  ["motd", { type: "motd" }],
  ["switch", { type: "switch", room: "#lobby" }],
  ["away", { type: "away", reason: "lunch" }],
  ["back (an error: not away)", { type: "back" }],
  ["nick", { type: "nick", nick: "zed" }],
  ["join", { type: "join", room: "#dev" }],
  ["join (an error: already there)", { type: "join", room: "#lobby" }],
  ["part (an error: the lobby)", { type: "part" }],
  ["who", { type: "who" }],
  ["rooms", { type: "rooms" }],
  ["history", { type: "history" }],
  ["ping", { type: "ping", token: "t" }],
  ["private", { type: "private", to: "bob", text: "psst" }],
  ["message (an error: not a member)", {
    type: "message",
    room: "#elsewhere",
    text: "x",
  }],
  ["bans (an error: not an operator)", { type: "bans" }],
  ["oper (an error: no operators)", { type: "oper", password: "x" }],
  ["hello (an error: logged in)", { type: "hello", nick: "again" }],
  ["an unknown type", { type: "frobnicate" }],
];

for (const big of [false, true]) {
  for (const [name, request] of ASKED) {
    const where = big ? "a big room" : "a small room";
    Deno.test(`in ${where}, ${name} asked right after a message is answered after its confirmation`, async () => {
      using hub = testHub({
        limits: { floodRate: 0, bigRoomMembers: big ? 2 : 0 },
        motd: ["hello"],
      });
      const alice = peer(hub, "alice");
      peer(hub, "bob");
      await send(hub, alice, { type: "ping" });
      alice.events.length = 0;
      // One read: both lines are handled in the same turn.
      const said = JSON.stringify({ type: "message", text: "hi", ref: "said" });
      assert.equal(handleLine(hub, alice.session, said), undefined);
      const pending = handleLine(
        hub,
        alice.session,
        JSON.stringify({ ...request, ref: "asked" }),
      );
      hub.commitNow();
      await pending;
      hub.commitNow();
      await alice.session.outbound.idle();
      const refs = alice.events.map(refOf);
      const confirmation = refs.indexOf("said");
      const reply = refs.indexOf("asked");
      assert.ok(
        confirmation !== -1 && reply !== -1,
        JSON.stringify(alice.events),
      );
      assert.ok(
        confirmation < reply,
        `the reply came first: ${JSON.stringify(alice.events)}`,
      );
    });
  }
}

Deno.test("a muted person's /away notice comes after the confirmation of what it said before the mute", async () => {
  using hub = testHub({ operatorPassword: "op-pw" });
  const alice = peer(hub, "alice");
  const op = peer(hub, "op");
  await send(hub, op, { type: "oper", password: "op-pw" });
  alice.events.length = 0;
  // Alice's two lines and the mute between them, in one turn.
  handleLine(hub, alice.session, '{"type":"message","text":"hi","ref":"said"}');
  handleLine(hub, op.session, '{"type":"mute","nick":"alice"}');
  handleLine(hub, alice.session, '{"type":"away","reason":"x","ref":"asked"}');
  hub.commitNow();
  await alice.session.outbound.idle();
  const mine = alice.events.filter((event) => refOf(event) !== undefined);
  assert.deepEqual(
    mine.map((event) => [event.type, refOf(event)]),
    [["message", "said"], ["notice", "asked"], ["away", "asked"]],
  );
});

Deno.test("a quit waits for the confirmation of the message before it, and the lines after it are not read", async () => {
  using hub = testHub();
  const alice = peer(hub, "alice");
  const bob = peer(hub, "bob");
  await send(hub, alice, { type: "ping" });
  alice.events.length = 0;
  handleLine(
    hub,
    alice.session,
    '{"type":"message","text":"bye all","ref":"said"}',
  );
  const quitting = handleLine(hub, alice.session, '{"type":"quit"}');
  assert.ok(quitting instanceof Promise, "the quit waits for its turn");
  hub.commitNow();
  await quitting;
  assert.equal(alice.session.state, "closing");
  assert.equal(
    handleLine(hub, alice.session, '{"type":"message","text":"after"}'),
    undefined,
  );
  await alice.session.finished;
  assert.deepEqual(alice.events.map((event) => event.type), [
    "message",
    "bye",
  ]);
  assert.equal(refOf(alice.events[0]!), "said");
  await bob.session.outbound.idle();
  assert.deepEqual(
    bob.events.filter((e) => e.type === "message").map((e) =>
      e.type === "message" ? e.text : ""
    ),
    ["bye all"],
  );
});
