/// <reference lib="dom" />
/// <reference lib="deno.ns" />
/**
 * The web client without a mouse, for a screen reader, and at phone width,
 * in a real headless Chromium: every step uses the keyboard alone (Tab,
 * Shift+Tab, Enter and typing), the message list is a live region that new
 * messages land in, and a 375 px wide page never scrolls sideways.
 */

import assert from "node:assert/strict";
import { LineClient, startWebServer } from "./helpers.ts";
import {
  closeBrowser,
  launchBrowser,
  type Page,
  waitForLine,
} from "./browser.ts";

/** Most Tab presses to reach any control: the page has far fewer. */
const MAX_TABS = 60;

/** A short description of the focused element, for matching and messages. */
function focused(page: Page): Promise<string> {
  return page.evaluate(() => {
    const active = document.activeElement as HTMLElement | null;
    if (active === null || active === document.body) return "body";
    const id = active.id === "" ? "" : `#${active.id}`;
    return `${active.tagName.toLowerCase()}${id} ${active.innerText ?? ""}`
      .trim();
  });
}

/**
 * Presses Tab (or Shift+Tab) until the focused element's description
 * matches `wanted`; fails after {@linkcode MAX_TABS} presses.
 */
async function tabTo(
  page: Page,
  wanted: RegExp,
  backwards = false,
): Promise<void> {
  const seen: string[] = [];
  for (let i = 0; i < MAX_TABS; i++) {
    const now = await focused(page);
    if (wanted.test(now)) return;
    seen.push(now);
    if (backwards) await page.keyboard.down("Shift");
    await page.keyboard.press("Tab");
    if (backwards) await page.keyboard.up("Shift");
  }
  assert.fail(
    `${wanted} not reached by ${backwards ? "Shift+" : ""}Tab; focus went ` +
      `through: ${seen.join(" | ")}`,
  );
}

async function waitForStatus(page: Page, text: string): Promise<void> {
  await page.waitForFunction(
    (wanted: string) =>
      document.getElementById("status")?.textContent === wanted,
    {},
    text,
  );
}

/** Whether the page scrolls sideways, and what sticks out if it does. */
function overflow(page: Page) {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const wide = [...document.querySelectorAll("body *")]
      .filter((node) => {
        const box = node.getBoundingClientRect();
        return box.width > 0 && box.right > width + 1;
      })
      .slice(0, 5)
      .map((node) =>
        `${node.tagName.toLowerCase()}${node.id ? `#${node.id}` : ""}.${
          (node as HTMLElement).className
        }`
      );
    return {
      width,
      scrollWidth: document.documentElement.scrollWidth,
      wide,
    };
  });
}

Deno.test("web client: keyboard only, a live region, phone width", async (t) => {
  const chat = await startWebServer({}, { database: ":memory:" });
  const browser = await launchBrowser();
  try {
    await using bob = await LineClient.text(chat.port, "bob");
    const page = await browser.newPage();
    await page.setViewport({ width: 1000, height: 700 });
    await page.goto(chat.url, { waitUntil: "domcontentloaded" });
    await page.waitForSelector("#status[data-state=connected]");

    await t.step(
      "the nickname screen, the input and the room list by keyboard",
      async () => {
        await tabTo(page, /^input#nick/);
        await page.keyboard.type("kim");
        await tabTo(page, /^input#room/);
        await page.keyboard.press("Enter");
        await waitForStatus(page, "Connected as kim");
        await tabTo(page, /^textarea#input/);
        await page.keyboard.type("typed without a mouse");
        await page.keyboard.press("Enter");
        await bob.expect("<kim> typed without a mouse");

        await page.keyboard.type("/join #side");
        await page.keyboard.press("Enter");
        await page.waitForFunction(() =>
          document.getElementById("title")?.textContent === "#side"
        );
        // Back to #lobby through the room list: Shift+Tab to its button,
        // Enter to open it.
        await tabTo(page, /^button #lobby/, true);
        await page.keyboard.press("Enter");
        await page.waitForFunction(() =>
          document.getElementById("title")?.textContent === "#lobby"
        );
        await bob.send("seen in #lobby again");
        await waitForLine(page, "seen in #lobby again");
        // And on to the input again, forwards, to keep talking.
        await tabTo(page, /^textarea#input/);
        await page.keyboard.type("still only keys");
        await page.keyboard.press("Enter");
        await bob.expect("<kim> still only keys");
      },
    );

    await t.step("new messages land in a polite live region", async () => {
      const region = await page.$eval("#messages", (list) => ({
        role: list.getAttribute("role"),
        live: list.getAttribute("aria-live"),
        relevant: list.getAttribute("aria-relevant"),
        label: list.getAttribute("aria-label"),
        hidden: list.closest("[aria-hidden=true]") !== null,
      }));
      assert.deepEqual(region, {
        role: "log",
        live: "polite",
        relevant: "additions",
        label: "Messages",
        hidden: false,
      });
      await bob.send("announce me");
      await waitForLine(page, "announce me");
      const inRegion = await page.$$eval(
        "#messages > li",
        (items) =>
          items.some((item) =>
            (item as HTMLElement).innerText.includes("announce me")
          ),
      );
      assert.ok(inRegion, "the new message is an addition to the region");
      const status = await page.$eval(
        "#status",
        (node) => node.getAttribute("role"),
      );
      assert.equal(status, "status", "the connection state is announced");
    });

    await t.step("at 375 px nothing scrolls sideways", async () => {
      // A page of its own, closed with the browser: closing one page alone
      // leaves a timer of puppeteer's running past the test.
      const phone = await browser.newPage();
      await phone.setViewport({ width: 375, height: 700 });
      await phone.goto(chat.url, { waitUntil: "domcontentloaded" });
      await phone.waitForSelector("#status[data-state=connected]");
      const login = await overflow(phone);
      assert.ok(
        login.scrollWidth <= login.width,
        `login screen: ${JSON.stringify(login)}`,
      );
      await phone.type("#nick", "a-rather-long-nickname-x");
      await phone.keyboard.press("Enter");
      await waitForStatus(phone, "Connected as a-rather-long-nickname-x");
      await bob.send(`unbroken ${"w".repeat(300)}`);
      await bob.send("/join #a-room-with-a-name-long-enough-to-wrap-x");
      await bob.send("/join #lobby");
      await waitForLine(phone, "unbroken");
      const chatView = await overflow(phone);
      assert.ok(
        chatView.scrollWidth <= chatView.width,
        `chat: ${JSON.stringify(chatView)}`,
      );
      const input = await phone.$eval("#input", (node) => {
        const box = node.getBoundingClientRect();
        return { left: box.left, right: box.right };
      });
      assert.ok(input.left >= 0 && input.right <= 375, "input in view");
    });
  } finally {
    await closeBrowser(browser);
    await chat.server.close();
  }
});
