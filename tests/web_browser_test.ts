/// <reference lib="dom" />
/// <reference lib="deno.ns" />
/**
 * The web client in a real headless Chromium, in the same rooms as an
 * nc-style TCP user and the terminal client. One browser serves every step
 * (launching is the slow part); every wait is for something the page or a
 * socket shows, bounded by a timeout.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { ChatServer } from "../server.ts";
import { findRoom, partRoom } from "../server/rooms.ts";
import {
  LineClient,
  LineStream,
  seatMembers,
  seatNamed,
  startWebServer,
  type TestWebServer,
} from "./helpers.ts";
import {
  closeBrowser,
  closePage,
  launchBrowser,
  logIn,
  messageTexts,
  type Page,
  say,
  waitForLine,
} from "./browser.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** The terminal client as a user runs it, its stdin piped. */
function startTerminalClient(port: number, nick: string) {
  const config = JSON.parse(Deno.readTextFileSync(`${ROOT}/deno.json`));
  const permissions = String(config.tasks.client).split(/\s+/)
    .filter((word) => word.startsWith("--allow-"));
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...permissions,
      "client.ts",
      "--port",
      String(port),
      "--nick",
      nick,
    ],
    cwd: ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
    env: { NO_COLOR: "1" },
  }).spawn();
  const stdout = new LineStream(child.stdout);
  const stdin = child.stdin.getWriter();
  return {
    stdout,
    type: (line: string) => stdin.write(new TextEncoder().encode(`${line}\n`)),
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
      await stdin.close().catch(() => {});
      await child.status;
      await stdout.done;
    },
  };
}

/** Clicks the conversation button whose label starts with `label`. */
async function openConversation(page: Page, label: string): Promise<void> {
  // Found and clicked in one step inside the page: the list is redrawn as
  // events arrive, so a button found first and clicked later may be gone.
  const clicked = await page.$$eval(
    ".conversation-button",
    (buttons, wanted) => {
      const button = buttons.find((button) =>
        (button as HTMLElement).innerText.startsWith(wanted as string)
      ) as HTMLElement | undefined;
      button?.click();
      return button !== undefined;
    },
    label,
  );
  assert.ok(clicked, `no conversation button for ${label}`);
  await page.waitForFunction(
    (wanted: string) =>
      document.getElementById("title")?.textContent?.includes(wanted),
    {},
    label,
  );
}

/** How often each line containing `text` appears on the page. */
async function countLines(page: Page, text: string): Promise<number> {
  return (await messageTexts(page)).filter((line) => line.includes(text))
    .length;
}

/** A web server keeping `database`, with room for one more in a room of 10,000. */
function browserServer(database: string, httpPort = 0): Promise<TestWebServer> {
  return startWebServer(
    { historyLength: 10, maxRoomMembers: 10_001 },
    { database, web: { port: httpPort } },
  );
}

Deno.test("web client in a real browser", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "tern-web-" });
  const database = `${dir}/chat.db`;
  let first: Awaited<ReturnType<typeof startWebServer>> | null =
    await browserServer(database);
  let second: Awaited<ReturnType<typeof startWebServer>> | null = null;
  const browser = await launchBrowser();
  try {
    const { port, url } = first;

    await t.step(
      "the page's files come over kept-alive connections",
      async () => {
        const probe = await browser.newPage();
        const cdp = await probe.createCDPSession();
        try {
          await cdp.send("Network.enable");
          const responses: Array<{ id: number; reused: boolean }> = [];
          cdp.on("Network.responseReceived", (event) => {
            if (!event.response.url.startsWith(url)) return;
            responses.push({
              id: event.response.connectionId,
              reused: event.response.connectionReused,
            });
          });
          await probe.goto(url, { waitUntil: "domcontentloaded" });
          await probe.waitForSelector("#status[data-state=connected]");
          const firstLoad = responses.length;
          assert.equal(firstLoad, 3, "the page, its script and stylesheet");
          await probe.reload({ waitUntil: "domcontentloaded" });
          await probe.waitForSelector("#status[data-state=connected]");
          const reload = responses.slice(firstLoad);
          assert.equal(reload.length, 3);
          assert.deepEqual(
            reload.map((response) => response.reused),
            [true, true, true],
            "the reload asked over the connections of the first load",
          );
          const connections = new Set(responses.map((response) => response.id));
          assert.ok(
            connections.size < firstLoad,
            `${responses.length} responses over ${connections.size} connections`,
          );
        } finally {
          await cdp.detach();
          await closePage(probe);
        }
      },
    );

    const page = await browser.newPage();
    await page.setViewport({ width: 1000, height: 700 });
    await logIn(page, url, "ann");
    await using bob = await LineClient.text(port, "bob");
    await using carol = startTerminalClient(port, "carol");
    await carol.stdout.expect(/Connected to tern as carol/, 15_000);

    await t.step("browser, nc and terminal users see each other", async () => {
      await say(page, "hello from the browser");
      await bob.expect("<ann> hello from the browser");
      await carol.stdout.expect(/<ann> hello from the browser$/);
      await bob.send("hello from nc");
      await waitForLine(page, "hello from nc");
      await carol.stdout.expect(/<bob> hello from nc$/);
      await carol.type("hello from the terminal");
      await waitForLine(page, "hello from the terminal");
      await bob.expect("<carol> hello from the terminal");
      await say(page, "/me waves");
      await bob.expect("* ann waves");
      await waitForLine(page, "* ann waves");
      const members = await page.$eval(
        "#members",
        (list) => (list as HTMLElement).innerText,
      );
      for (const nick of ["ann", "bob", "carol"]) {
        assert.match(members, new RegExp(nick));
      }
    });

    await t.step("user text is shown as text and runs nothing", async () => {
      const hostile = '<img src=x onerror="window.pwned=1"><b>bold</b>';
      await bob.send(hostile);
      await waitForLine(page, "<img src=x onerror=");
      const found = await page.evaluate(() => ({
        pwned: (globalThis as { pwned?: number }).pwned ?? null,
        images: document.querySelectorAll("#messages img").length,
        bold: document.querySelectorAll("#messages b").length,
      }));
      assert.deepEqual(found, { pwned: null, images: 0, bold: 0 });
      assert.ok(
        (await messageTexts(page)).some((line) => line.includes(hostile)),
      );
    });

    await t.step("a private message from nc reaches the browser", async () => {
      await bob.send("/msg ann psst, just for you");
      await page.waitForFunction(() =>
        document.getElementById("privates")?.textContent?.includes("bob")
      );
      const badge = await page.$eval(
        "#privates .unread",
        (item) => item.textContent,
      );
      assert.equal(badge, "1");
      await openConversation(page, "bob");
      await waitForLine(page, "psst, just for you");
      await say(page, "got it");
      await bob.expect("*ann -> bob* got it");
      await openConversation(page, "#lobby");
    });

    await t.step("switching rooms", async () => {
      await say(page, "/join #dev");
      await page.waitForFunction(() =>
        document.getElementById("title")?.textContent === "#dev"
      );
      // Still in #lobby as well: its messages arrive, counted as unread.
      await bob.send("said while ann looks at #dev");
      await page.waitForFunction(() =>
        [...document.querySelectorAll("#rooms button")].some((button) =>
          (button as HTMLElement).innerText.startsWith("#lobby") &&
          button.querySelector(".unread")?.textContent === "1"
        )
      );
      await say(page, "first words in #dev");
      await openConversation(page, "#lobby");
      await waitForLine(page, "said while ann looks at #dev");
      assert.equal(await countLines(page, "first words in #dev"), 0);
      assert.equal(await countLines(page, "hello from nc"), 1);
      await say(page, "back in the lobby");
      await bob.expect("<ann> back in the lobby");
      await page.waitForFunction(() =>
        /#lobby \(3\)/.test(
          document.getElementById("rooms")?.textContent ?? "",
        ) &&
        /#dev \(1\)/.test(document.getElementById("rooms")?.textContent ?? "")
      );
    });

    await t.step("history loads on scrolling up", async () => {
      await using writer = await LineClient.json(port, "archivist");
      await writer.sendJson({ type: "join", room: "#archive" });
      for (let i = 1; i <= 60; i++) {
        await writer.sendJson({ type: "message", text: `archived ${i}.` });
      }
      await writer.linesUntilPong(true);
      // A phone, short enough that the replay overflows: scrolling is real.
      await page.setViewport({ width: 390, height: 480 });
      await say(page, "/join #archive");
      await waitForLine(page, "archived 60.");
      assert.equal(await countLines(page, "archived 1."), 0);
      await page.$eval("#messages", (list) => list.scrollTop = 0);
      await waitForLine(page, "archived 1.");
      const lines = (await messageTexts(page)).filter((line) =>
        line.includes("archived ")
      );
      assert.deepEqual(
        lines.map((line) => Number(/archived (\d+)\./.exec(line)![1])),
        Array.from({ length: 60 }, (_, i) => i + 1),
      );
      await page.setViewport({ width: 1000, height: 700 });
      await say(page, "/join #lobby");
      await page.waitForFunction(() =>
        document.getElementById("title")?.textContent === "#lobby"
      );
    });

    await t.step(
      "a typed /who in a room of 10,000 shows one page; more come on asking",
      async () => {
        seatMembers(first!.server, 9_999, "#big");
        await say(page, "/join #big");
        await page.waitForFunction(() =>
          document.getElementById("title")?.textContent === "#big" &&
          document.getElementById("members-title")?.textContent ===
            "Members: 10000"
        );
        await say(page, "/who");
        await waitForLine(page, "#big (10000): ann, m00000, ");
        await say(page, "/who more");
        await waitForLine(page, "#big (10000): m00099, ");
        // Answered after both pages: had the page asked for more by itself,
        // those pages would have come first.
        await say(page, "/rooms");
        await waitForLine(page, "Rooms: ");
        const pages = (await messageTexts(page)).filter((line) =>
          line.includes("#big (10000): ")
        );
        assert.equal(pages.length, 2, pages.join("\n").slice(0, 500));
        for (const shown of pages) assert.match(shown, /; more: \/who more$/);
        const listed = () =>
          page.$$eval("#members li", (items) => items.length);
        assert.equal(await listed(), 200);
        // The member list's own control asks for the next page.
        await page.click("#members-more");
        await page.waitForFunction(() =>
          document.querySelectorAll("#members li").length === 300
        );
        assert.equal(await countLines(page, "#big (10000): "), 2);
        // A typed page from a cursor is added to the list as well.
        const last = await page.$$eval(
          "#members li",
          (items) => items.at(-1)?.textContent ?? "",
        );
        assert.equal(last, "m00298");
        await say(page, "/who #big after m00298");
        await waitForLine(page, "#big (10000): m00299, ");
        await page.waitForFunction(() =>
          document.querySelectorAll("#members li").length === 400
        );
        // A typed page from past where the list ends is shown, but not put
        // in the list, which would skip everyone between: it names its own
        // next page, since /who more goes on from the list.
        const names = () =>
          page.$$eval(
            "#members li button",
            (items) => items.map((item) => item.firstChild?.textContent ?? ""),
          );
        const before = await names();
        assert.equal(before.at(-1), "m00398");
        await say(page, "/who #big after m05000");
        await waitForLine(page, "#big (10000): m05001, ");
        await waitForLine(page, "m05100; more: /who #big after m05100");
        // Past the room's last member as well.
        await say(page, "/who #big after zzz");
        await waitForLine(page, "#big (10000): no members after that name");
        // Someone past the list's end going away is news of a name not
        // shown: it stays out of the list too.
        await using zoe = await LineClient.text(port, "zoe");
        await zoe.send("/join #big");
        await zoe.expect(/^\*\*\* #big has 10001 members/);
        await zoe.send("/away");
        await zoe.expect(/^\*\*\* zoe is away/);
        await say(page, "/rooms");
        await waitForLine(page, "#big (10001)");
        assert.deepEqual(await names(), before);
        // The list goes on from where it ends, in one piece.
        await page.click("#members-more");
        await page.waitForFunction(() =>
          document.querySelectorAll("#members li").length === 500
        );
        const after = await names();
        assert.deepEqual(after.slice(0, 400), before);
        assert.equal(after[400], "m00399");
        await say(page, "/part #big");
        await page.waitForFunction(() =>
          document.getElementById("title")?.textContent === "#lobby"
        );
      },
    );

    await t.step(
      "/who more typed twice before its page comes shows the next two pages, once each",
      async () => {
        seatNamed(
          first!.server,
          Array.from(
            { length: 250 },
            (_, i) => `w${String(i).padStart(3, "0")}`,
          ),
          "#wide",
        );
        await say(page, "/join #wide");
        await page.waitForFunction(() =>
          document.getElementById("title")?.textContent === "#wide" &&
          document.getElementById("members-title")?.textContent ===
            "Members: 251"
        );
        await say(page, "/who");
        await waitForLine(page, "#wide (251): ann, w000, ");
        // Both sent in one task: the page after the first cannot have come
        // in between.
        await page.$eval("#send-form", (form) => {
          const input = document.getElementById(
            "input",
          ) as HTMLTextAreaElement;
          for (let i = 0; i < 2; i++) {
            input.value = "/who more";
            (form as HTMLFormElement).requestSubmit();
          }
        });
        await waitForLine(page, "#wide (251): w199, ");
        await say(page, "/rooms");
        await waitForLine(page, "Rooms: ");
        assert.equal(await countLines(page, "#wide (251): w099, "), 1);
        assert.equal(await countLines(page, "#wide (251): w199, "), 1);
        assert.equal(await countLines(page, "#wide (251): "), 3);
        await page.waitForFunction(() =>
          document.querySelectorAll("#members li").length === 251
        );
        await say(page, "/part #wide");
        await page.waitForFunction(() =>
          document.getElementById("title")?.textContent === "#lobby"
        );
      },
    );

    await t.step(
      "a room back under the big-room size counts its members again",
      async () => {
        const hub = first!.server.hub;
        const seated = seatNamed(
          first!.server,
          Array.from(
            { length: 100 },
            (_, i) => `v${String(i).padStart(3, "0")}`,
          ),
          "#shrink",
        );
        await say(page, "/join #shrink");
        await page.waitForFunction(() =>
          document.getElementById("title")?.textContent === "#shrink" &&
          document.getElementById("members-title")?.textContent ===
            "Members: 101"
        );
        // Three leave: the first two unannounced (the room is big counting
        // them), the third announced, as the room is back under the size.
        const room = findRoom(hub, "#shrink")!;
        for (const session of seated.slice(0, 3)) partRoom(hub, session, room);
        await waitForLine(page, "v002 left #shrink (part)");
        await page.waitForFunction(() =>
          document.getElementById("members-title")?.textContent ===
            "Members (98)" &&
          document.querySelectorAll("#members li").length === 98
        );
        await say(page, "/part #shrink");
        await page.waitForFunction(() =>
          document.getElementById("title")?.textContent === "#lobby"
        );
      },
    );

    await t.step(
      "a page from another site cannot open the socket",
      async () => {
        const other = Deno.serve(
          { hostname: "127.0.0.1", port: 0, onListen: () => {} },
          () =>
            new Response(
              `<!doctype html><title>waiting</title><script>
              const ws = new WebSocket("${url.replace("http", "ws")}ws");
              ws.onopen = () => document.title = "open";
              ws.onclose = () => document.title = "refused";
            </script>`,
              { headers: { "content-type": "text/html" } },
            ),
        );
        const evil = await browser.newPage();
        try {
          await evil.goto(`http://127.0.0.1:${other.addr.port}/`);
          await evil.waitForFunction(() => document.title !== "waiting");
          assert.equal(await evil.title(), "refused");
        } finally {
          await closePage(evil);
          await other.shutdown();
        }
      },
    );

    await t.step(
      "reconnects after a restart with no gap and no duplicate",
      async () => {
        await bob.send("before the restart");
        await waitForLine(page, "before the restart");
        const httpPort = Number(new URL(url).port);
        await bob.close();
        await first!.server.close();
        first = null;
        await page.waitForSelector("#status[data-state=disconnected]");
        // Messages the page cannot see: sent while the server is back for TCP
        // users only, then the server restarts with its web listener as well.
        const tcpOnly = new ChatServer({
          hostname: "127.0.0.1",
          port: 0,
          database,
          limits: { floodRate: 0, closeGraceMs: 500 },
        });
        try {
          const addresses = await tcpOnly.start();
          await using dave = await LineClient.text(
            addresses.plain!.port,
            "dave",
          );
          for (let i = 1; i <= 15; i++) await dave.send(`missed ${i}.`);
          await dave.linesUntilPong();
        } finally {
          await tcpOnly.close();
        }
        second = await browserServer(database, httpPort);
        await page.waitForSelector("#status[data-state=connected]", {
          timeout: 20_000,
        });
        await waitForLine(page, "missed 15.", 15_000);
        await page.waitForFunction(() =>
          document.querySelectorAll("#messages li").length > 0 &&
          [...document.querySelectorAll("#messages li")].some((item) =>
            (item as HTMLElement).innerText.includes("missed 1.")
          )
        );
        const lines = await messageTexts(page);
        const missed = lines.filter((line) => line.includes("missed "))
          .map((line) => Number(/missed (\d+)\./.exec(line)![1]));
        assert.deepEqual(missed, Array.from({ length: 15 }, (_, i) => i + 1));
        assert.equal(await countLines(page, "before the restart"), 1);
        assert.equal(await countLines(page, "hello from nc"), 1);
      },
    );
  } finally {
    await closeBrowser(browser);
    await first?.server.close();
    const last = second as { server: ChatServer } | null;
    await last?.server.close();
    await Deno.remove(dir, { recursive: true });
  }
});
