/**
 * The web client's files, read once at start into memory. The list of paths
 * is fixed here: a request can only ever name one of these entries, never a
 * file path built from its URL.
 *
 * @module
 */

import type { Asset } from "./http_rules.ts";

/** Each served path, the file under web/ it holds, and its type. */
export const ASSET_FILES: readonly {
  path: string;
  file: string;
  contentType: string;
}[] = [
  { path: "/", file: "index.html", contentType: "text/html; charset=utf-8" },
  {
    path: "/style.css",
    file: "style.css",
    contentType: "text/css; charset=utf-8",
  },
  {
    path: "/app.js",
    file: "app.js",
    contentType: "text/javascript; charset=utf-8",
  },
];

/** The directory of the web client, beside the server's code. */
export const WEB_DIR: URL = new URL("../../web/", import.meta.url);

/**
 * Reads every asset into memory.
 * @throws when a file is missing or unreadable: the server cannot serve the
 * page without it, and says so at start rather than on the first request
 */
export async function loadAssets(
  dir: URL = WEB_DIR,
): Promise<Map<string, Asset>> {
  const assets = new Map<string, Asset>();
  for (const { path, file, contentType } of ASSET_FILES) {
    const body = await Deno.readFile(new URL(file, dir));
    assets.set(path, { body, contentType });
  }
  return assets;
}
