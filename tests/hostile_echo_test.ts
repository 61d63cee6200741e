/**
 * What the server says back never carries what a client typed raw: an error
 * that quotes an unknown command or a missing nickname, a pong's token, a
 * topic cut at its limit. Escape sequences would reach the sender's own
 * terminal (or a bot's log), and a lone surrogate makes a strict JSON parser
 * reject the whole line.
 */

import assert from "node:assert/strict";
import { LineClient, startServer } from "./helpers.ts";

/** Whether `line` holds a C0/C1 control character or DEL. */
function hasControl(line: string): boolean {
  // deno-lint-ignore no-control-regex -- finding controls is the point
  return /[\x00-\x1f\x7f-\x9f]/.test(line);
}

Deno.test("text mode: errors and pongs quoting typed input carry no escape", async () => {
  await using chat = await startServer();
  await using alice = await LineClient.text(chat.port, "alice");
  const typed = [
    "/\x1b[2Jfoo",
    "/msg \x1b]0;owned\x07zz hi",
    "/who #\x1b[31mred",
    "/ping \x1b[5mblink\x1b[0m",
  ];
  for (const line of typed) await alice.send(line);
  const replies = await alice.linesUntilPong();
  assert.equal(replies.length, typed.length, replies.join("\n"));
  for (const reply of replies) {
    assert.ok(!hasControl(reply), JSON.stringify(reply));
    assert.ok(reply.startsWith("*** "), reply);
  }
  assert.equal(
    replies[0],
    "*** Error: Unknown command /foo; /help lists the commands",
  );
  assert.equal(replies[3], "*** pong blink");
});

Deno.test("JSON mode: error words carry no escape and no lone surrogate", async () => {
  await using chat = await startServer();
  await using bot = await LineClient.json(chat.port, "bot");
  await bot.sendJson({
    type: "private",
    to: "\x1b[31mzz\ud800",
    text: "hi",
    ref: "p1",
  });
  const line = await bot.expect((l) => l.includes('"ref":"p1"'));
  assert.ok(!line.includes("\\u001b"), line);
  assert.ok(!/\\ud[89a-f]/i.test(line), line);
  const event = JSON.parse(line);
  assert.equal(event.type, "error");
});

Deno.test("JSON mode: message text with a lone surrogate goes out well-formed", async () => {
  await using chat = await startServer();
  await using bot = await LineClient.json(chat.port, "bot");
  await using reader = await LineClient.json(chat.port, "reader");
  await bot.sendJson({ type: "message", text: "x\ud800y\udfff", ref: "m1" });
  const line = await reader.expect((l) => l.includes('"type":"message"'));
  assert.ok(!/\\ud[89a-f]/i.test(line), line);
  assert.equal(JSON.parse(line).text, "x\ufffdy\ufffd");
});

Deno.test("a topic cut at its limit keeps a whole emoji or none of it", async () => {
  await using chat = await startServer({ maxTopicLength: 10 }, {
    operatorPassword: "op-pw",
  });
  await using op = await LineClient.json(chat.port, "op");
  await op.sendJson({ type: "oper", password: "op-pw" });
  await op.expectEvent("notice");
  await op.sendJson({ type: "topic", text: "123456789\u{1f600}tail" });
  const line = await op.expect((l) => l.includes('"type":"topic"'));
  assert.ok(!/\\ud[89a-f]/i.test(line), line);
  assert.equal(JSON.parse(line).topic, "123456789");
});

Deno.test("Zalgo text: messages, private messages, topics and away reasons keep a few marks per character", async () => {
  await using chat = await startServer({}, { operatorPassword: "op-pw" });
  await using op = await LineClient.json(chat.port, "op");
  await using reader = await LineClient.json(chat.port, "reader");
  const zalgo = "z" + "\u0336\u0301".repeat(30) + "!";
  const capped = "z" + "\u0336\u0301".repeat(3) + "!";
  await op.sendJson({ type: "message", text: zalgo });
  assert.equal((await reader.expectEvent("message")).text, capped);
  await op.sendJson({ type: "private", to: "reader", text: zalgo });
  assert.equal((await reader.expectEvent("private")).text, capped);
  await op.sendJson({ type: "away", reason: zalgo });
  assert.equal((await reader.expectEvent("away")).reason, capped);
  await op.sendJson({ type: "oper", password: "op-pw" });
  await op.expectEvent("notice");
  await op.sendJson({ type: "topic", text: zalgo });
  assert.equal((await reader.expectEvent("topic")).topic, capped);
});

Deno.test("a ref that is not a string is echoed on its error, and the connection stays", async () => {
  await using chat = await startServer();
  await using bot = await LineClient.json(chat.port, "bot");
  for (const ref of [42, { id: 1 }, true]) {
    await bot.sendJson({ type: "message", text: "hi", ref });
    const error = await bot.expectEvent("error");
    assert.equal(error.code, "bad_request");
    assert.deepEqual(error.ref, ref);
  }
  await bot.linesUntilPong(true);
});
