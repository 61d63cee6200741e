/// <reference lib="dom" />
/**
 * A real headless Chromium for tests, from npm: `@sparticuz/chromium` ships
 * the binary (unpacked into the temp directory on first use), and
 * `puppeteer-core` drives it. `CHROME_PATH` may name an installed Chromium
 * instead. Nothing is installed by hand.
 *
 * @module
 */

import puppeteer, { type Browser, type Page } from "npm:puppeteer-core@24.43.1";
import chromium from "npm:@sparticuz/chromium@153.0.0";
import { within } from "./helpers.ts";

export type { Browser, Page };

/**
 * Flags of the package's AWS Lambda profile that a test must not run with:
 * one process for everything breaks separate browser contexts, and the
 * others switch off the very web security the tests check.
 */
const LAMBDA_ONLY_FLAGS = new Set([
  "--single-process",
  "--no-zygote",
  "--disable-web-security",
  "--allow-running-insecure-content",
  "--disable-site-isolation-trials",
]);

/**
 * Where the package unpacks the browser. It unpacks only when nothing is
 * there, so an empty file left by an unpacking that failed (the package's
 * tar reader asks for the process's uid and umask, which needs
 * `--allow-sys`) would stop every later run: such a file is removed first.
 */
async function removeFailedUnpack(): Promise<void> {
  const path = `${Deno.env.get("TMPDIR") ?? "/tmp"}/chromium`;
  try {
    if ((await Deno.stat(path)).size === 0) await Deno.remove(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/** Launches headless Chromium; close it with {@linkcode closeBrowser}. */
export async function launchBrowser(): Promise<Browser> {
  const chosen = Deno.env.get("CHROME_PATH");
  if (chosen === undefined) await removeFailedUnpack();
  const executablePath = chosen ?? await chromium.executablePath();
  return await puppeteer.launch({
    executablePath,
    args: chromium.args.filter((flag: string) => !LAMBDA_ONLY_FLAGS.has(flag)),
    headless: true,
  });
}

/**
 * Resolves once puppeteer has let go of `page`'s main frame. When a page's
 * session ends while the browser is still connected, puppeteer waits for
 * the frame to be swapped on a 100 ms timer nobody can cancel, then lets
 * it go: a test that ended before would leak that timer.
 */
function frameLetGo(page: Page): Promise<void> {
  const main = page.mainFrame();
  if (main.detached) return Promise.resolve();
  return new Promise((resolve) => {
    const detached = (frame: unknown) => {
      if (frame !== main) return;
      page.off("framedetached", detached);
      resolve();
    };
    page.on("framedetached", detached);
  });
}

/** Closes a page and waits until puppeteer is done with it. */
export async function closePage(page: Page): Promise<void> {
  const letGo = frameLetGo(page);
  await page.close();
  await within(letGo, "puppeteer to let go of the closed page");
}

/**
 * Closes the browser, killing its process if it does not go, and waits
 * until puppeteer is done with its pages.
 */
export async function closeBrowser(browser: Browser): Promise<void> {
  const pid = browser.process()?.pid;
  const letGo = (await browser.pages().catch(() => [])).map(frameLetGo);
  try {
    await browser.close();
  } catch {
    if (pid !== undefined) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
  }
  await within(Promise.all(letGo), "puppeteer to let go of the pages");
}

/** The text of every message line on the page, in order. */
export function messageTexts(page: Page): Promise<string[]> {
  return page.$$eval(
    "#messages li",
    (items) => items.map((item) => (item as HTMLElement).innerText),
  );
}

/** Waits until a message line on the page contains `text`. */
export async function waitForLine(
  page: Page,
  text: string,
  timeout = 10_000,
): Promise<void> {
  try {
    await page.waitForFunction(
      (wanted: string) =>
        [...document.querySelectorAll("#messages li")].some((item) =>
          (item as HTMLElement).innerText.includes(wanted)
        ),
      { timeout },
      text,
    );
  } catch (error) {
    const shown = (await messageTexts(page)).slice(-15).join("\n");
    throw new Error(`no line with "${text}" on the page; it shows:\n${shown}`, {
      cause: error,
    });
  }
}

/** Opens the page and logs in with a nickname (and room). */
export async function logIn(
  page: Page,
  url: string,
  nick: string,
  room = "#lobby",
): Promise<void> {
  await page.goto(url, { waitUntil: "domcontentloaded" });
  await page.waitForSelector("#status[data-state=connected]");
  await page.type("#nick", nick);
  await page.$eval("#room", (input, value) => {
    (input as HTMLInputElement).value = value as string;
  }, room);
  await page.click("#login-form button[type=submit]");
  await page.waitForFunction(
    (wanted: string) =>
      document.getElementById("status")?.textContent ===
        `Connected as ${wanted}`,
    {},
    nick,
  );
}

/** Types a line into the chat input and sends it. */
export async function say(page: Page, line: string): Promise<void> {
  await page.type("#input", line);
  await page.keyboard.press("Enter");
}
