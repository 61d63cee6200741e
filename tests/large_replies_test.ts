/**
 * Replies whose size depends on data (the join replay, `/history` pages, the
 * MOTD, waiting private messages, member lists) are sent as the reader
 * drains them and never count as its slowness; a page too large says how to
 * get the next; waiting messages are marked delivered only once written.
 * Every reply here is larger than the 96 KiB that once cut its reader off.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { PrivateMessage, RoomMessage, ServerEvent } from "../protocol.ts";
import { Session, type SessionSocket } from "../server/session.ts";
import { claimNick } from "../server/nicknames.ts";
import { enterRoom } from "../server/rooms.ts";
import { deliverPending } from "../server/commands/waiting_messages.ts";
import { handleFrames } from "../server/commands/dispatch.ts";
import { concatBytes } from "../wire/bytes.ts";
import {
  LineClient,
  seatMembers,
  startServer,
  type TestServer,
  WAIT_MS,
} from "./helpers.ts";

/** A temporary directory for one test's database, removed afterwards. */
function temporaryDatabase(): { path: string } & Disposable {
  const dir = Deno.makeTempDirSync({ prefix: "tern-replies-" });
  return {
    path: `${dir}/chat.db`,
    [Symbol.dispose]: () => Deno.removeSync(dir, { recursive: true }),
  };
}

/** Fast hashing for tests; the default is deliberately slow. */
const FAST_KDF = { passwordIterations: 1000 };

/** A long line that JSON doubles: 4,090 backslashes and a number. */
const poison = (n: number) => `${n} ${"\\".repeat(4085)}`;

/** Sends `count` long lines into #lobby from a text client, and waits. */
async function fillLobby(port: number, count: number): Promise<string[]> {
  const lines = Array.from({ length: count }, (_, i) => poison(i));
  await using writer = await LineClient.text(port, "writer");
  for (const line of lines) await writer.send(line);
  await writer.linesUntilPong();
  return lines;
}

/** Pages back through #lobby from `first` until no page says `more`. */
async function pageBack(
  client: LineClient,
  first: ServerEvent & { type: "history" },
): Promise<RoomMessage[]> {
  let page = first;
  const pages = [page];
  for (let n = 0; page.more && n < 100; n++) {
    const ref = `page-${n}`;
    await client.sendJson({
      type: "history",
      before: page.messages[0]!.id,
      limit: 200,
      ref,
    });
    page = await client.expectEvent("history", (e) => e.ref === ref);
    pages.unshift(page);
  }
  return pages.flatMap((p) => p.messages);
}

Deno.test("the join replay of long messages reaches every JSON login, also after a restart", async () => {
  using db = temporaryDatabase();
  let lines: string[];
  {
    await using chat = await startServer({}, { database: db.path });
    lines = await fillLobby(chat.port, 20);
  }
  // The poison is stored: a restarted server replays it to every login.
  await using chat = await startServer({}, { database: db.path });
  for (const nick of ["j1", "j2"]) {
    await using client = await LineClient.connect(chat.port);
    await client.sendJson({ type: "hello", nick });
    await client.expectEvent("welcome");
    const replay = await client.expectEvent("history");
    assert.equal(replay.more, true, "a page too large says there is more");
    await client.expectEvent("who");
    const all = await pageBack(client, replay);
    assert.deepEqual(all.map((m) => m.text), lines);
    const after = await client.linesUntilPong(true);
    assert.ok(!after.some((line) => line.includes('"bye"')), "still here");
  }
});

Deno.test("/history over 30 long messages comes in pages; the requester stays", async () => {
  await using chat = await startServer();
  const lines = await fillLobby(chat.port, 30);
  await using json = await LineClient.json(chat.port, "reader");
  await json.sendJson({ type: "history", room: "#lobby", limit: 30, ref: "h" });
  const first = await json.expectEvent("history", (e) => e.ref === "h");
  assert.equal(first.more, true);
  const all = await pageBack(json, first);
  assert.deepEqual(all.map((m) => m.text), lines);
  // In text mode, the page ends with the exact command for the next one.
  await using text = await LineClient.text(chat.port, "textreader");
  await text.send("/history #lobby 30");
  const more = await text.expect(
    /^\*\*\* Older messages: \/history #lobby before \d+$/,
  );
  await text.send(more.slice("*** Older messages: ".length));
  await text.expect(/^\*\*\* History of #lobby: \d+ messages, older than /);
  await text.expect((line) => line.endsWith(`<writer> ${lines[0]}`));
  const after = await text.linesUntilPong();
  assert.ok(!after.some((line) => line.startsWith("*** Disconnected")));
});

Deno.test("a large --motd reaches every login whole", async () => {
  const motd = Array.from(
    { length: 2000 },
    (_, i) => `${i} `.padEnd(200, "~"),
  );
  await using chat = await startServer({}, { motd });
  await using json = await LineClient.connect(chat.port);
  await json.sendJson({ type: "hello", nick: "j" });
  await json.expectEvent("welcome");
  const got: string[] = [];
  while (got.length < motd.length) {
    const event = await json.expectEvent("motd");
    assert.equal(event.continued, got.length === 0 ? undefined : true);
    got.push(...event.lines);
  }
  assert.deepEqual(got, motd);
  await json.expectEvent("who");
  await using text = await LineClient.connect(chat.port);
  await text.send("t");
  await text.expect("*** Message of the day:");
  for (const line of motd) await text.expect(`***   ${line}`);
  await text.expect("*** t joined #lobby");
  await text.linesUntilPong();
});

Deno.test("60 waiting private messages of 3 KB are all delivered, once", async () => {
  using db = temporaryDatabase();
  await using chat = await startServer(FAST_KDF, { database: db.path });
  {
    await using owner = await LineClient.text(chat.port, "owner");
    await owner.send("/register owners password");
    await owner.expect(/now registered/);
  }
  await using sender = await LineClient.json(chat.port, "sender");
  const texts = Array.from({ length: 60 }, (_, i) => `${i} `.padEnd(3000, "p"));
  for (const text of texts) {
    await sender.sendJson({ type: "private", to: "owner", text });
  }
  await sender.linesUntilPong(true);
  {
    await using owner = await LineClient.connect(chat.port);
    await owner.sendJson({
      type: "hello",
      nick: "owner",
      identify: "owners password",
    });
    const got: PrivateMessage[] = [];
    while (got.length < texts.length) {
      got.push(await owner.expectEvent("private", () => true, 2 * WAIT_MS));
    }
    assert.deepEqual(got.map((m) => m.text), texts);
    const after = await owner.linesUntilPong(true);
    assert.ok(!after.some((line) => line.includes('"bye"')), "still here");
  }
  // Every one was marked delivered as it was written: none come again.
  await using again = await LineClient.connect(chat.port);
  await again.sendJson({
    type: "hello",
    nick: "owner",
    identify: "owners password",
  });
  await again.expectEvent("who");
  const later = await again.linesUntilPong(true);
  assert.ok(!later.some((line) => line.includes('"private"')));
});

Deno.test("a member list with long away reasons reaches a JSON newcomer whole", async () => {
  await using chat = await startServer({ bigRoomMembers: 0 });
  seatMembers(chat.server, 500, "#lobby", "a".repeat(200));
  await using json = await LineClient.connect(chat.port);
  await json.sendJson({ type: "hello", nick: "newcomer" });
  const who = await json.expectEvent("who", () => true, 2 * WAIT_MS);
  assert.equal(who.members.length, 501);
  await json.sendJson({ type: "who", ref: "w" });
  const again = await json.expectEvent("who", (e) => e.ref === "w");
  assert.ok(again.members.length > 0 && again.next !== undefined);
  const after = await json.linesUntilPong(true);
  assert.ok(!after.some((line) => line.includes('"bye"')), "still here");
});

Deno.test("waiting messages the socket never took stay waiting for the next login", async () => {
  using db = temporaryDatabase();
  await using chat = await startServer(FAST_KDF, { database: db.path });
  {
    await using owner = await LineClient.text(chat.port, "owner");
    await owner.send("/register owners password");
    await owner.expect(/now registered/);
  }
  await using sender = await LineClient.json(chat.port, "sender");
  for (let i = 0; i < 60; i++) {
    await sender.sendJson({
      type: "private",
      to: "owner",
      text: `${i} `.padEnd(3000, "q"),
    });
  }
  await sender.linesUntilPong(true);
  const owner = chat.server.hub.history.accounts.find("owner")!.id;
  assert.equal(chat.server.hub.history.pendingFor(owner).length, 60);
  // A peer whose kernel takes 10,000 bytes and then nothing more.
  let taken = 0;
  const written = Promise.withResolvers<void>();
  const hub = chat.server.hub;
  const stuck = new Session({
    socket: {
      write(bytes) {
        if (taken >= 10_000) return new Promise<number>(() => {});
        const count = Math.min(bytes.length, 10_000 - taken);
        taken += count;
        if (taken >= 10_000) written.resolve();
        return Promise.resolve(count);
      },
      close: () => {},
    },
    address: "127.0.0.1",
    limits: hub.limits,
    onSendFailure: hub.sendFailed,
  });
  stuck.chooseCodec("json");
  stuck.state = "active";
  claimNick(hub, stuck, "owner");
  stuck.account = { id: owner, nick: "owner" };
  deliverPending(hub, stuck);
  await written.promise;
  // One turn of the event loop: the queue's callbacks for that write, and
  // the marking they queue, run first.
  await new Promise((resolve) => setTimeout(resolve, 0));
  stuck.closeSocket();
  // Three of about 3,050 bytes each were written whole; the rest wait.
  assert.equal(chat.server.hub.history.pendingFor(owner).length, 57);
});

/** A socket whose writes wait until the test opens it. */
class HeldSocket implements SessionSocket {
  readonly written: Uint8Array[] = [];
  #waiting: Array<() => void> = [];
  #open = false;

  write(bytes: Uint8Array): Promise<number> {
    this.written.push(bytes.slice());
    if (this.#open) return Promise.resolve(bytes.length);
    return new Promise((resolve) =>
      this.#waiting.push(() => resolve(bytes.length))
    );
  }

  /** Lets every write through, those waiting and those to come. */
  open(): void {
    this.#open = true;
    for (const release of this.#waiting.splice(0)) release();
  }

  close(): void {}
}

/**
 * A JSON session "asker" in `server`'s hub, logged in, on a socket whose
 * writes wait until it is opened.
 */
function heldAsker(
  server: TestServer["server"],
): { socket: HeldSocket; session: Session } {
  const hub = server.hub;
  const socket = new HeldSocket();
  const session = new Session({
    socket,
    address: "127.0.0.1",
    limits: hub.limits,
    onSendFailure: hub.sendFailed,
  });
  session.chooseCodec("json");
  claimNick(hub, session, "asker");
  session.state = "active";
  return { socket, session };
}

Deno.test("a client that asks for pages faster than it reads them waits: at most --max-queued-replies pile up, and every page comes", async () => {
  await using chat = await startServer({ maxQueuedReplies: 2 });
  await fillLobby(chat.port, 30);
  const hub = chat.server.hub;
  const { socket, session } = heldAsker(chat.server);
  const refs = Array.from({ length: 10 }, (_, i) => `h${i}`);
  const pending = handleFrames(
    hub,
    session,
    refs.map((ref) => ({
      kind: "line",
      text: JSON.stringify({ type: "history", room: "#lobby", limit: 30, ref }),
    })),
  );
  assert.ok(pending !== undefined, "the reader has not read: the rest waits");
  assert.equal(session.outbound.repliesWaiting, 2);
  socket.open();
  await pending;
  await session.outbound.idle();
  const replies = new TextDecoder().decode(concatBytes(socket.written))
    .split("\n").filter((line) => line.includes('"history"'))
    .map((line) => JSON.parse(line) as { ref?: string });
  assert.deepEqual(
    [...new Set(replies.map((reply) => reply.ref))],
    refs,
    "every request answered, in order",
  );
  session.outbound.close();
  hub.disconnect(session, "quit");
});

Deno.test("--max-queued-replies counts replies held behind a message sent in the same read", async () => {
  await using chat = await startServer({ maxQueuedReplies: 2 });
  await fillLobby(chat.port, 30);
  const hub = chat.server.hub;
  const { socket, session } = heldAsker(chat.server);
  enterRoom(hub, session, "#lobby");
  const refs = Array.from({ length: 10 }, (_, i) => `w${i}`);
  const pages = [
    { type: "who", ref: "w0" },
    { type: "history", room: "#lobby", limit: 30, ref: "w1" },
    { type: "motd", ref: "w2" },
  ];
  // A message first: everything after it waits for its commit before it is
  // queued, and must count from the moment it is accepted.
  const pending = handleFrames(hub, session, [
    { kind: "line", text: JSON.stringify({ type: "message", text: "hi" }) },
    ...refs.map((ref, i) => ({
      kind: "line" as const,
      text: JSON.stringify({ ...pages[i % pages.length]!, ref }),
    })),
  ]);
  assert.ok(pending !== undefined, "the reader has not read: the rest waits");
  assert.equal(session.outbound.repliesWaiting, 2);
  socket.open();
  await pending;
  await session.outbound.idle();
  const answered = new TextDecoder().decode(concatBytes(socket.written))
    .split("\n").filter((line) => line.includes('"ref":"w'))
    .map((line) => (JSON.parse(line) as { ref?: string }).ref);
  assert.deepEqual([...new Set(answered)], refs, "every request, in order");
  assert.equal(session.outbound.repliesWaiting, 0);
  session.outbound.close();
  hub.disconnect(session, "quit");
});
