import { LineClient, seatMembers, startServer } from "./helpers.ts";

Deno.test("probe", async () => {
  await using chat = await startServer();
  seatMembers(chat.server, 150);
  await using bot = await LineClient.connect(chat.port);
  await bot.sendJson({ type: "hello", nick: "bot" });
  await bot.expectEvent("members");
  const asks: unknown[] = [
    { limit: 0 }, { limit: 1001 }, { limit: 1.5 }, { limit: "10" }, { limit: -1 },
    { after: "a b" }, { after: "x".repeat(33) }, { after: "ｍ00100" }, { after: "M00100" },
    { after: "-" }, { after: "zzz" }, { after: "m00149" }, { after: "bot" }, { room: "lobby", after: "m00010", limit: 2 },
    { room: "#nope" }, { room: "#lobby", after: null }, { after: "m00010", limit: 2, room: "#LOBBY" },
    { after: "а00100" }, { after: "m0010O" },
  ];
  let i = 0;
  for (const ask of asks) {
    const ref = `r${i++}`;
    await bot.sendJson({ type: "who", ref, ...(ask as object) });
    const line = await bot.expect((l) => l.includes(`"ref":"${ref}"`));
    console.log(JSON.stringify(ask), "=>", line.slice(0, 200));
  }
  await using ann = await LineClient.connect(chat.port);
  await ann.send("ann");
  await ann.expect(/has 152 members/);
  for (const line of ["/who after ｍ00100", "/who #lobby after m00149", "/who lobby after m00148", "/who #LOBBY", "/names more", "/who after bot extra", "/who #nope", "/who after zzz", "/who after m00148", "/who #lobby after", "/who   #lobby   after   m00148  "]) {
    await ann.send(line);
    const got = await ann.expect(/^\*\*\* /);
    console.log(line, "=>", got.slice(0, 160));
  }
});
