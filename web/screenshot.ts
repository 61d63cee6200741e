/// <reference lib="dom" />
/// <reference lib="deno.ns" />
/**
 * `deno task screenshot`: a real session, photographed. A server in this
 * process, people on TCP (as `nc` and as a JSON bot) and one in headless
 * Chromium, a short conversation, then a PNG of the browser's page for the
 * README.
 *
 * @module
 */

import { ChatServer } from "../server.ts";
import { LineClient } from "../tests/helpers.ts";
import {
  closeBrowser,
  launchBrowser,
  logIn,
  say,
  waitForLine,
} from "../tests/browser.ts";

/** Where the picture goes, beside the README. */
const OUTPUT = new URL("../docs/web-client.png", import.meta.url);

const server = new ChatServer({
  hostname: "127.0.0.1",
  port: 0,
  web: { port: 0 },
  operatorPassword: "screenshot-only",
  limits: { floodRate: 0, closeGraceMs: 200 },
});
const addresses = await server.start();
const port = addresses.plain!.port;
const url = `http://127.0.0.1:${addresses.http!.port}/`;
const browser = await launchBrowser();
const clients: LineClient[] = [];
try {
  const bob = await LineClient.text(port, "bob");
  const carol = await LineClient.json(port, "carol");
  const dmitri = await LineClient.text(port, "dmitri");
  const watcher = await LineClient.text(port, "eve");
  clients.push(bob, carol, dmitri, watcher);
  await bob.send("/oper screenshot-only");
  await bob.send("/topic Release 0.9 on Friday: notes in #dev");
  await dmitri.send("/away reviewing the WebSocket patch");
  await watcher.send("/join #dev");
  const page = await browser.newPage();
  await page.setViewport({ width: 1040, height: 600, deviceScaleFactor: 1 });
  await logIn(page, url, "alice");
  await bob.send("morning! the web client is up on :7080");
  await carol.sendJson({
    type: "action",
    text: "ran the browser tests: 7 steps green",
  });
  await say(page, "hi all, typing this from Chromium");
  await bob.send("nc, the terminal client and the browser, one room");
  await carol.sendJson({
    type: "message",
    text: "<b>this stays text</b>, never HTML",
  });
  await say(page, "/me waves");
  await bob.send("/msg alice can you look at the reconnect test?");
  await waitForLine(page, "this stays text");
  await page.waitForFunction(() =>
    document.querySelector("#privates .unread") !== null
  );
  await page.waitForFunction(() =>
    /#dev \(1\)/.test(document.getElementById("rooms")?.textContent ?? "")
  );
  await page.screenshot({ path: OUTPUT.pathname });
  console.log(`wrote ${OUTPUT.pathname}`);
} finally {
  await closeBrowser(browser);
  for (const client of clients) await client.close();
  await server.close();
}
