/// <reference lib="dom" />
/// <reference lib="deno.ns" />
/**
 * A person's first hour with the web client, in a real headless Chromium:
 * the login form's questions and refusals, a nickname change, a restart of
 * the server, long and multi-line messages, links. Each step is something
 * that once went wrong for such a person; one browser serves them all.
 */

import assert from "node:assert/strict";
import type { ServerOptions } from "../server.ts";
import {
  LineClient,
  seatMembers,
  seatNamed,
  startWebServer,
  type TestWebServer,
} from "./helpers.ts";
import {
  type Browser,
  closeBrowser,
  closePage,
  launchBrowser,
  logIn,
  messageTexts,
  type Page,
  say,
  waitForLine,
} from "./browser.ts";

/** A page of its own for one step, closed after it. */
async function withPage(
  browser: Browser,
  use: (page: Page) => Promise<void>,
): Promise<void> {
  const page = await browser.newPage();
  try {
    await page.setViewport({ width: 1000, height: 700 });
    await use(page);
  } finally {
    await closePage(page);
  }
}

/** Opens the page and waits for its socket. */
async function open(page: Page, url: string): Promise<void> {
  await page.goto(url, { waitUntil: "domcontentloaded" });
  await page.waitForSelector("#status[data-state=connected]");
}

/** Replaces a field's text and submits the login form. */
async function submit(page: Page, fields: Record<string, string>) {
  for (const [id, value] of Object.entries(fields)) {
    await page.$eval(
      `#${id}`,
      (input) => (input as HTMLInputElement).value = "",
    );
    await page.type(`#${id}`, value);
  }
  await page.click("#login-form button[type=submit]");
}

/** Waits until the login form's error matches `pattern`; returns it. */
async function loginError(page: Page, pattern: RegExp): Promise<string> {
  try {
    await page.waitForFunction(
      (source: string) =>
        new RegExp(source).test(
          document.getElementById("login-error")?.textContent ?? "",
        ),
      { timeout: 10_000 },
      pattern.source,
    );
  } catch (error) {
    const shown = await page.$eval("#login-error", (node) => node.textContent);
    throw new Error(`the login error is "${shown}", not ${pattern}`, {
      cause: error,
    });
  }
  return await page.$eval("#login-error", (node) => node.textContent ?? "");
}

/** Which login rows show, and which field has the cursor. */
function formState(page: Page) {
  return page.evaluate(() => ({
    serverPassword: !document.getElementById("server-password-row")!.hidden,
    nickPassword: !document.getElementById("nick-password-row")!.hidden,
    focus: document.activeElement?.id ?? "",
  }));
}

async function waitForStatus(page: Page, text: string): Promise<void> {
  await page.waitForFunction(
    (wanted: string) =>
      document.getElementById("status")?.textContent === wanted,
    { timeout: 10_000 },
    text,
  );
}

/** A web server with its history in memory; `options.limits` as given. */
function firstHourServer(options: ServerOptions = {}): Promise<TestWebServer> {
  return startWebServer(options.limits, { database: ":memory:", ...options });
}

Deno.test("web client: a person's first hour", async (t) => {
  const browser = await launchBrowser();
  try {
    await t.step(
      "a registered nickname is asked for in words, with the cursor in its field, and a wrong password never asks for a server password",
      async () => {
        await using chat = await firstHourServer();
        {
          await using owner = await LineClient.text(chat.port, "regina");
          await owner.send("/register secretpass1");
          await owner.expect(/registered/);
        }
        await withPage(browser, async (page) => {
          await open(page, chat.url);
          await submit(page, { nick: "regina" });
          const asked = await loginError(page, /registered nickname/);
          assert.equal(
            asked,
            "regina is a registered nickname: enter its password below, or choose another nickname",
          );
          assert.doesNotMatch(asked, /hello|identify/, "no protocol words");
          assert.deepEqual(await formState(page), {
            serverPassword: false,
            nickPassword: true,
            focus: "nick-password",
          });
          await submit(page, { "nick-password": "not-the-one" });
          await loginError(
            page,
            /^Wrong nickname password: 2 tries left before the connection is closed$/,
          );
          assert.deepEqual(await formState(page), {
            serverPassword: false,
            nickPassword: true,
            focus: "nick-password",
          });
          await submit(page, { "nick-password": "secretpass1" });
          await waitForStatus(page, "Connected as regina");
        });
      },
    );

    await t.step(
      "a server password is asked for in words; after too many wrong ones, the form tries again",
      async () => {
        await using chat = await firstHourServer({ password: "letmein" });
        await withPage(browser, async (page) => {
          await open(page, chat.url);
          await submit(page, { nick: "ann" });
          assert.equal(
            await loginError(page, /password/),
            "This server needs a password: enter it below",
          );
          assert.deepEqual(await formState(page), {
            serverPassword: true,
            nickPassword: false,
            focus: "server-password",
          });
          for (let attempt = 1; attempt <= 3; attempt++) {
            await submit(page, { "server-password": `wrong${attempt}` });
            await loginError(
              page,
              attempt < 3
                ? new RegExp(`^Wrong server password: ${3 - attempt} tr`)
                : /^Too many wrong server passwords$/,
            );
            // The next try must not find the last answer still showing.
            await page.$eval("#login-error", (node) => node.textContent = "");
          }
          await page.waitForSelector("#status[data-state=disconnected]");
          await submit(page, { "server-password": "letmein" });
          await waitForStatus(page, "Connected as ann");
        });
      },
    );
    await t.step("a new nickname shows in the status", async () => {
      await using chat = await firstHourServer();
      await withPage(browser, async (page) => {
        await logIn(page, chat.url, "ann");
        await page.type("#input", "/nick annie");
        await page.keyboard.press("Enter");
        await waitForLine(page, "ann is now annie");
        await waitForStatus(page, "Connected as annie");
      });
    });

    await t.step(
      "a typed command's refusal names the commands one types, not the requests the page sends",
      async () => {
        await using chat = await startWebServer();
        await withPage(browser, async (page) => {
          await logIn(page, chat.url, "ann");
          for (const line of ["/part", "/kick bob"]) {
            await page.type("#input", line);
            await page.keyboard.press("Enter");
          }
          await waitForLine(
            page,
            "You are in #lobby, where everyone starts; /quit leaves the chat",
          );
          await waitForLine(
            page,
            "Only operators may use /kick; /oper PASSWORD if you are one",
          );
          const lines = (await messageTexts(page)).join("\n");
          assert.doesNotMatch(lines, /request|"quit"|"oper"/);
        });
      },
    );

    await t.step(
      "after a restart the page says it lost the server and is back, with no greeting meant for nc and no refusal of private history",
      async () => {
        let chat = await firstHourServer();
        const httpPort = Number(new URL(chat.url).port);
        try {
          await withPage(browser, async (page) => {
            await logIn(page, chat.url, "ann");
            {
              await using bob = await LineClient.text(chat.port, "bob");
              await bob.send("/msg ann psst");
              await page.waitForFunction(() =>
                document.getElementById("privates")?.textContent?.includes(
                  "bob",
                )
              );
            }
            await page.type("#input", "/join #dev");
            await page.keyboard.press("Enter");
            await page.waitForFunction(() =>
              document.getElementById("title")?.textContent === "#dev"
            );
            await chat.server.close();
            await page.waitForSelector("#status[data-state=disconnected]");
            await waitForLine(page, "Disconnected: Server shutting down");
            chat = await firstHourServer({ web: { port: httpPort } });
            await waitForLine(
              page,
              "Reconnected as ann; back in #lobby, #dev",
              20_000,
            );
            await waitForStatus(page, "Connected as ann");
            // Both rooms are joined again: their counts come from the server.
            await page.waitForFunction(() =>
              /#dev \(1\)/.test(
                document.getElementById("rooms")?.textContent ?? "",
              ) &&
              /#lobby \(1\)/.test(
                document.getElementById("rooms")?.textContent ?? "",
              )
            );
            // Whatever arrives after the rejoin is in; none of it may be
            // the nc greeting or a refusal nobody asked to see.
            await page.type("#input", "/ping after-rejoin");
            await page.keyboard.press("Enter");
            await waitForLine(page, "Pong after-rejoin");
            const lines = (await messageTexts(page)).join("\n");
            assert.doesNotMatch(lines, /Choose a nickname|Welcome to tern/);
            assert.doesNotMatch(lines, /Private messages are kept only/);
          });
        } finally {
          await chat.server.close();
        }
      },
    );

    await t.step(
      "the room list's count follows people joining and leaving a room one is in",
      async () => {
        await using chat = await firstHourServer();
        await withPage(browser, async (page) => {
          await logIn(page, chat.url, "ann", "#dev");
          const shows = (label: string) =>
            page.waitForFunction(
              (wanted: string) =>
                [...document.querySelectorAll("#rooms button")].some((
                  button,
                ) => (button as HTMLElement).innerText.startsWith(wanted)),
              { timeout: 10_000 },
              label,
            );
          await shows("#dev (1)");
          const bob = await LineClient.text(chat.port, "bob");
          try {
            await bob.send("/join #dev");
            await waitForLine(page, "bob joined #dev");
            await shows("#dev (2)");
          } finally {
            await bob.close();
          }
          await waitForLine(page, "bob left #dev");
          await shows("#dev (1)");
        });
      },
    );

    await t.step(
      "in a big room, which announces no arrivals, the header's and the room list's counts still move",
      async () => {
        await using chat = await startWebServer({
          bigRoomMembers: 3,
          bigRoomCountMs: 200,
        });
        seatMembers(chat.server, 3);
        await withPage(browser, async (page) => {
          await logIn(page, chat.url, "ann");
          await page.waitForFunction(() =>
            document.getElementById("members-title")?.textContent ===
              "Members: 4"
          );
          seatNamed(chat.server, ["late1", "late2", "late3"]);
          await page.waitForFunction(
            () =>
              document.getElementById("members-title")?.textContent ===
                "Members: 7" &&
              /#lobby \(7\)/.test(
                document.getElementById("rooms")?.textContent ?? "",
              ),
            { timeout: 10_000 },
          );
        });
      },
    );

    await t.step(
      "a message too long for the server is refused on the page, and stays in the box to be shortened",
      async () => {
        await using chat = await firstHourServer();
        await using bob = await LineClient.text(chat.port, "bob");
        await withPage(browser, async (page) => {
          await logIn(page, chat.url, "ann");
          await page.waitForFunction(() =>
            document.getElementById("members")?.textContent?.includes("bob")
          );
          const box = () =>
            page.$eval(
              "#input",
              (input) => (input as HTMLTextAreaElement).value,
            );
          // 3,000 characters, but 6,000 bytes; and 2,100 quotes, which JSON
          // sends as 4,200 bytes: both past the 4,096 the server reads.
          for (const text of ["é".repeat(3000), '"'.repeat(2100)]) {
            await page.$eval("#input", (input, value) => {
              (input as HTMLTextAreaElement).value = value as string;
            }, text);
            await page.keyboard.press("Enter");
            await waitForLine(page, "Too long to send: this message takes");
            assert.equal(await box(), text, "what was typed is still there");
            await page.$eval("#input", (input) => {
              (input as HTMLTextAreaElement).value = "";
            });
          }
          // A long message that fits is sent whole: no length cap on the
          // box cuts it short.
          const fits = `${"word ".repeat(800)}end`;
          await page.$eval("#input", (input, value) => {
            (input as HTMLTextAreaElement).value = value as string;
          }, fits);
          await page.keyboard.press("Enter");
          await bob.expect(`<ann> ${fits}`);
          assert.equal(await box(), "");
          const shown = (await messageTexts(page)).join("\n");
          assert.doesNotMatch(shown, /Line longer than/, "no server refusal");
        });
      },
    );

    await t.step(
      "a pasted block of lines goes out as one message a line, in order, at the server's pace, and nothing in it runs as a command",
      async () => {
        // A server that disconnects a client whose lines wait at its flood
        // control for a second: 24 lines at once would.
        await using chat = await firstHourServer({
          limits: {
            floodRate: 5,
            floodBurst: 10,
            floodDisconnectMs: 1000,
          },
        });
        await using bob = await LineClient.text(chat.port, "bob");
        await withPage(browser, async (page) => {
          await logIn(page, chat.url, "ann");
          await page.waitForFunction(() =>
            document.getElementById("members")?.textContent?.includes("bob")
          );
          const lines = Array.from({ length: 24 }, (_, i) => `pasted ${i + 1}`);
          lines.splice(5, 0, "/quit not a command", "", "   ");
          await page.focus("#input");
          // A real paste: the browser's own text insertion, line breaks kept.
          const cdp = await page.createCDPSession();
          try {
            await cdp.send("Input.insertText", { text: lines.join("\n") });
          } finally {
            await cdp.detach();
          }
          await page.keyboard.press("Enter");
          for (const line of lines.filter((line) => line.trim() !== "")) {
            await bob.expect(`<ann> ${line}`);
          }
          await waitForLine(page, "pasted 24");
          await waitForStatus(page, "Connected as ann");
          const shown = (await messageTexts(page)).join("\n");
          assert.doesNotMatch(shown, /flood|Disconnected/i);
          // Shift+Enter starts a new line; Enter sends both.
          await page.type("#input", "first");
          await page.keyboard.down("Shift");
          await page.keyboard.press("Enter");
          await page.keyboard.up("Shift");
          await page.type("#input", "second");
          await page.keyboard.press("Enter");
          await bob.expect("<ann> first");
          await bob.expect("<ann> second");
        });
      },
    );

    await t.step(
      "web addresses in messages are links; script addresses and markup stay text",
      async () => {
        await using chat = await firstHourServer();
        await using bob = await LineClient.text(chat.port, "bob");
        await withPage(browser, async (page) => {
          await logIn(page, chat.url, "ann");
          const said =
            'see https://a.example/x?q=1&r=2, (or https://b.example/y) javascript:alert(1) <a href="javascript:alert(2)">c</a> <script>window.pwned=1</script>';
          await bob.send(said);
          await waitForLine(page, "see https://a.example/x");
          const found = await page.evaluate(() => {
            const line = [...document.querySelectorAll("#messages li")].at(-1)!;
            return {
              text: (line.querySelector(".text") as HTMLElement).innerText,
              links: [...line.querySelectorAll("a")].map((link) => ({
                href: link.getAttribute("href"),
                text: link.textContent,
                target: link.target,
                rel: link.rel,
              })),
              scripts: line.querySelectorAll("script").length,
              pwned: (globalThis as { pwned?: number }).pwned ?? null,
            };
          });
          assert.equal(found.text, said, "the message reads as it was sent");
          assert.deepEqual(found.links, [
            {
              href: "https://a.example/x?q=1&r=2",
              text: "https://a.example/x?q=1&r=2",
              target: "_blank",
              rel: "noopener noreferrer nofollow",
            },
            {
              href: "https://b.example/y",
              text: "https://b.example/y",
              target: "_blank",
              rel: "noopener noreferrer nofollow",
            },
          ]);
          assert.equal(found.scripts, 0);
          assert.equal(found.pwned, null);
        });
      },
    );

    await t.step(
      "after a goodbye for good the form comes back saying why, and joins again under the name typed there",
      async () => {
        await using chat = await firstHourServer();
        await withPage(browser, async (page) => {
          await logIn(page, chat.url, "ann");
          await page.type("#input", "/quit see you");
          await page.keyboard.press("Enter");
          const said = await loginError(page, /^Disconnected: /);
          assert.match(said, /Press Enter to join again$/);
          assert.deepEqual(
            await page.evaluate(() => ({
              form: !document.getElementById("login")!.hidden,
              chat: !document.getElementById("chat")!.hidden,
              nick: (document.getElementById("nick") as HTMLInputElement)
                .value,
              focus: document.activeElement?.id,
            })),
            { form: true, chat: false, nick: "ann", focus: "nick" },
          );
          // Another name this time: the one typed is the one asked for.
          await submit(page, { nick: "ann2" });
          await waitForStatus(page, "Connected as ann2");
          await waitForLine(page, "Reconnected as ann2");
          // And a server restart after that is reconnected from, as before:
          // the quit is not remembered.
          await chat.server.close();
          await page.waitForSelector("#status[data-state=disconnected]");
          assert.match(
            await page.$eval("#status", (node) => node.textContent ?? ""),
            /reconnecting/,
          );
        });
      },
    );

    await t.step(
      "while disconnected the status counts down to the next attempt",
      async () => {
        await using chat = await firstHourServer();
        await withPage(browser, async (page) => {
          await logIn(page, chat.url, "ann");
          await chat.server.close();
          // Each status the page shows, in order; attempts fail (nobody
          // listens), their delays doubling, so some wait is two seconds or
          // more: its number must go down while it waits.
          try {
            await page.waitForFunction(
              () => {
                const state = globalThis as unknown as { seen?: string[] };
                const seen = state.seen ??= [];
                const text = document.getElementById("status")?.textContent ??
                  "";
                if (seen.at(-1) !== text) seen.push(text);
                const numbers = seen.map((shown) =>
                  Number(/reconnecting in (\d+) s$/.exec(shown)?.[1] ?? NaN)
                );
                return numbers.some((n, i) => i > 0 && n < numbers[i - 1]!);
              },
              { timeout: 15_000, polling: "mutation" },
            );
          } catch (error) {
            const seen = await page.evaluate(() =>
              (globalThis as unknown as { seen?: string[] }).seen
            );
            throw new Error(`no countdown: ${JSON.stringify(seen)}`, {
              cause: error,
            });
          }
        });
      },
    );

    await t.step(
      "Up and Down in the message box recall sent lines, then the draft",
      async () => {
        await using chat = await firstHourServer();
        await withPage(browser, async (page) => {
          await logIn(page, chat.url, "ann");
          const box = () =>
            page.$eval(
              "#input",
              (input) => (input as HTMLTextAreaElement).value,
            );
          await say(page, "first");
          await waitForLine(page, "first");
          await say(page, "/away lunch");
          await waitForLine(page, "lunch");
          await page.type("#input", "half");
          await page.keyboard.down("Shift");
          await page.keyboard.press("Enter");
          await page.keyboard.up("Shift");
          await page.type("#input", "typed");
          // Up on the second line moves the caret; on the first it recalls.
          await page.keyboard.press("ArrowUp");
          assert.equal(await box(), "half\ntyped");
          await page.keyboard.press("ArrowUp");
          assert.equal(await box(), "/away lunch");
          await page.keyboard.press("ArrowUp");
          assert.equal(await box(), "first");
          await page.keyboard.press("ArrowUp");
          assert.equal(await box(), "first");
          await page.keyboard.press("ArrowDown");
          assert.equal(await box(), "/away lunch");
          await page.keyboard.press("ArrowDown");
          assert.equal(await box(), "half\ntyped");
          // A recalled line is sent again as it is.
          await page.keyboard.press("ArrowUp");
          await page.keyboard.press("ArrowUp");
          await page.keyboard.press("ArrowUp");
          await page.keyboard.press("ArrowUp");
          assert.equal(await box(), "first");
          await page.keyboard.press("Enter");
          await page.waitForFunction(
            () =>
              [...document.querySelectorAll("#messages li")].filter((item) =>
                (item as HTMLElement).innerText.endsWith("first")
              ).length === 2,
            { timeout: 10_000 },
          );
          assert.equal(await box(), "");
        });
      },
    );
  } finally {
    await closeBrowser(browser);
  }
});
