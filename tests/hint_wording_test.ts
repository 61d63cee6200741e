/**
 * Every hint in its client's words, walked reply by reply: the same typed
 * lines go to a person at `nc` (text mode), to a bot (JSON), and to a JSON
 * client whose person types them (the web page, the terminal client: a
 * hello with `"hints":"commands"`), through login and ordinary use. No
 * JSON wording (a request type, a hello field) may reach the ones who type,
 * and no slash command may reach the bot, which sends request types.
 */

import assert from "node:assert/strict";
import { LineClient, startServer, type TestServer } from "./helpers.ts";
import {
  type ClientRequest,
  decodeTextRequest,
  type ServerEvent,
} from "../protocol.ts";

/** JSON wording: a quoted request type or field, a hello, a JSON object. */
const JSON_WORDING = /"[a-z]+"|\{"|\bhello\b|\brequests?\b/;
/** Text wording: a slash command. */
const SLASH_WORDING = /(^|[\s(])\/[a-z]+/;

const SERVER_PASSWORD = "s3cret-pw";

/**
 * Lines typed once logged in, each answered by a hint or a notice: a room
 * one is not in, the lobby, operators' commands, private history, a
 * registered nickname, identifying an unregistered one, the rooms an
 * address may open and one connection may be in, a wrong operator password,
 * registering, kicking oneself, help for a command that is none.
 */
const TYPED = [
  "/part #dev",
  "/part #lobby",
  "/kick host",
  "/history @owner",
  "/nick owner",
  "/identify somepassword",
  "/join #new",
  "/join #three",
  "/join #x",
  "/oper nope",
  "/register secretpass1",
  "/oper op-pw",
  "/kick NICK",
  "/help jion",
];

/** Who reads the hints, and how they send what is typed. */
type Kind = "text" | "json" | "typed";

/**
 * A server with a password, operators, a registered nickname (`owner`,
 * offline) and a room its address opened (`#three`, held by `host`), so
 * the address may open no other.
 */
async function walkServer(): Promise<
  TestServer & { host: LineClient }
> {
  const chat = await startServer({
    passwordIterations: 1000,
    maxRoomsPerUser: 2,
    maxRoomsPerAddress: 1,
  }, { password: SERVER_PASSWORD, operatorPassword: "op-pw" });
  try {
    {
      await using owner = await LineClient.connect(chat.port);
      await owner.send(SERVER_PASSWORD);
      await owner.send("owner");
      await owner.expect("*** owner joined #lobby");
      await owner.send("/register secretpass1");
      await owner.expect(/now registered/);
      await owner.send("/quit");
      await owner.closed();
    }
    const host = await LineClient.connect(chat.port);
    await host.send(SERVER_PASSWORD);
    await host.send("host");
    await host.send("/join #three");
    await host.expect("*** host joined #three");
    return {
      ...chat,
      host,
      [Symbol.asyncDispose]: async () => {
        await host.close();
        await chat[Symbol.asyncDispose]();
      },
    };
  } catch (error) {
    await chat[Symbol.asyncDispose]();
    throw error;
  }
}

/** What the server said in words among `lines`: errors, and everything else. */
interface Said {
  errors: string[];
  notices: string[];
}

/**
 * The words among `lines`: in text mode `*** Error:` lines and the other
 * `***` lines; in JSON, errors' messages and notices' texts.
 */
function said(kind: Kind, lines: string[]): Said {
  if (kind === "text") {
    const told = lines.filter((line) => line.startsWith("*** "));
    return {
      errors: told.filter((line) => line.startsWith("*** Error: ")).map((
        line,
      ) => line.slice("*** Error: ".length)),
      notices: told.filter((line) => !line.startsWith("*** Error: ")).map((
        line,
      ) => line.slice(4)),
    };
  }
  const events = lines.filter((line) => line.startsWith("{")).map((line) =>
    JSON.parse(line) as ServerEvent
  );
  return {
    errors: events.flatMap((e) => e.type === "error" ? [e.message] : []),
    notices: events.flatMap((e) => e.type === "notice" ? [e.text] : []),
  };
}

/**
 * Sends what a person typed, as `kind`'s client sends it: the line itself
 * at `nc`, the request the clients decode it into otherwise.
 */
async function typeLine(
  client: LineClient,
  kind: Kind,
  line: string,
): Promise<void> {
  if (kind === "text") return await client.send(line);
  const request = decodeTextRequest(line) as ClientRequest;
  assert.notEqual(request.type, "error", line);
  await client.sendJson(request);
}

/**
 * Logs in as `nick` after the refusals a login can meet: a request before
 * it, no server password, a wrong one, a registered nickname without its
 * password, identifying with no nickname. Returns what the login said.
 */
async function logIn(
  client: LineClient,
  kind: Kind,
  nick: string,
): Promise<string[]> {
  if (kind === "text") {
    await client.send("/who");
    await client.send("guess");
    await client.send(`/pass ${SERVER_PASSWORD}`);
    await client.send("/identify somepassword");
    await client.send("owner");
    await client.send("secretpass2-typed-bare");
    await client.send(`/nick ${nick}`);
    await client.expect(`*** ${nick} joined #lobby`);
  } else {
    // The web page and the terminal client send nothing before a hello.
    const hello = (fields: Record<string, string>) =>
      client.sendJson({
        type: "hello",
        ...(kind === "typed" ? { hints: "commands" } : {}),
        ...fields,
      });
    if (kind === "json") await client.sendJson({ type: "who" });
    await hello({ nick });
    await hello({ nick, password: "guess" });
    await hello({ nick: "owner", password: SERVER_PASSWORD });
    await client.sendJson({ type: "identify", password: "somepassword" });
    await hello({ nick });
    await client.expectEvent("welcome");
  }
  // Everything from the greeting on, up to a ping's answer.
  await client.linesUntilPong(kind !== "text");
  const words = said(kind, client.received.slice(0, client.consumed - 1));
  return [...words.errors, ...words.notices];
}

/** What login and {@linkcode TYPED} said to `kind`, by typed line. */
async function walk(
  kind: Kind,
): Promise<{ login: string[]; use: Said[] }> {
  await using chat = await walkServer();
  await using client = await LineClient.connect(chat.port);
  const nick = `${kind}er`;
  const login = await logIn(client, kind, nick);
  const use: Said[] = [];
  for (const line of TYPED) {
    await typeLine(client, kind, line.replace("NICK", nick));
    const words = said(kind, await client.linesUntilPong(kind !== "text"));
    const named = (text: string) => text.replaceAll(nick, "NICK");
    use.push({
      errors: words.errors.map(named),
      notices: words.notices.map(named),
    });
  }
  return { login, use };
}

/** Every error and notice of a walk. */
function everything(seen: { login: string[]; use: Said[] }): string[] {
  return [
    ...seen.login,
    ...seen.use.flatMap((words) => [...words.errors, ...words.notices]),
  ];
}

Deno.test("hint wording: no JSON words reach people who type, no slash commands reach bots", async () => {
  const text = await walk("text");
  const json = await walk("json");
  const typed = await walk("typed");
  for (const [kind, seen] of [["text", text], ["typed", typed]] as const) {
    for (const hint of everything(seen)) {
      assert.doesNotMatch(hint, JSON_WORDING, `${kind} read: ${hint}`);
    }
  }
  for (const hint of everything(json)) {
    assert.doesNotMatch(hint, SLASH_WORDING, `json read: ${hint}`);
  }
  // Once logged in, who types reads the same refusals in the page as at nc,
  // line by line.
  assert.deepEqual(
    typed.use.map((words) => words.errors),
    text.use.map((words) => words.errors),
  );
  const registered = TYPED.indexOf("/register secretpass1");
  assert.deepEqual(typed.use[registered]!.notices, [
    "Nickname NICK is now registered to you; use /identify PASSWORD next time",
  ]);
  // The walk met the hints that name what to do, in each client's words.
  const quit = TYPED.indexOf("/part #lobby");
  assert.deepEqual(text.use[quit]!.errors, [
    "You are in #lobby, where everyone starts; /quit leaves the chat",
  ]);
  assert.deepEqual(json.use[quit]!.errors, [
    'You are in #lobby, where everyone starts; a "quit" request leaves the chat',
  ]);
  const help = TYPED.indexOf("/help jion");
  assert.deepEqual(json.use[help]!.errors, [
    'No command "jion"; did you mean "join"? a "help" request without "command" lists them',
  ]);
  assert.ok(json.login.length >= 4 && text.login.length >= 4);
});
