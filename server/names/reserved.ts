/**
 * Nicknames nobody may take: the server's own name and the words people read
 * as the server's staff. `<server> please /identify with your password here`
 * or a private message from `admin` is how a chat's newcomers get phished;
 * compared by look-alike key, so `rnoderator` and `ѕerver` (Cyrillic ѕ) are
 * refused too.
 *
 * @module
 */

import { foldKey } from "../../wire/names.ts";
import { skeletonKey } from "./lookalikes.ts";

/**
 * The staff and service names refused besides the server's `--name`: the
 * roles IRC and Slack users trust, and the service bots they obey.
 */
export const RESERVED_NICKS: readonly string[] = [
  "server",
  "admin",
  "administrator",
  "operator",
  "root",
  "system",
  "sysop",
  "moderator",
  "staff",
  "support",
  "nickserv",
  "chanserv",
];

/**
 * Why `nick` may not be taken, or null if it may: it is, or looks like, the
 * server's name or one of {@linkcode RESERVED_NICKS}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { reservedNickRefusal } from "./reserved.ts";
 * assert.notEqual(reservedNickRefusal("rnoderator", "tern"), null);
 * assert.notEqual(reservedNickRefusal("TERN", "tern"), null);
 * assert.equal(reservedNickRefusal("alice", "tern"), null);
 * ```
 */
export function reservedNickRefusal(
  nick: string,
  serverName: string,
): string | null {
  const look = skeletonKey(nick);
  const fold = foldKey(nick);
  const clash = [serverName, ...RESERVED_NICKS].some((name) =>
    skeletonKey(name) === look || foldKey(name) === fold
  );
  return clash
    ? `Nickname ${nick} is reserved: it could pass for the server or its staff; choose another`
    : null;
}
