/**
 * When two names look the same: Unicode's TR39 skeleton, from its own
 * confusables data (confusables_data.ts, generated from confusables.txt), so
 * Cyrillic `а`, Greek `α`, mathematical and other-script forms of Latin
 * letters, `I` and `1` for `l`, and `m` for `rn` all reach one key. The table
 * stays on the server: the client never compares names by looks.
 *
 * @module
 */

import { CONFUSABLE_ROWS } from "./confusables_data.ts";

/** Each confusable character's prototype, built once from the table. */
const PROTOTYPES: ReadonlyMap<string, string> = new Map(
  CONFUSABLE_ROWS.map((row) => {
    const tab = row.indexOf("\t");
    return [row.slice(0, tab), row.slice(tab + 1)];
  }),
);

/**
 * Letter pairs that read as one letter but that TR39 leaves apart, because
 * its sources are single characters: `vv` is a prototype's spelling of `w`
 * only in fonts, yet it fools readers as `rn` fools them for `m` (which the
 * data does map). Applied after lower-casing.
 */
const MULTI_LETTER: ReadonlyArray<readonly [RegExp, string]> = [
  [/vv/g, "w"],
];

/**
 * The look-alike identity of a name: the TR39 skeleton (NFD, each character
 * to its prototype, NFD again) of its NFKC form, lower-cased, with the
 * multi-letter look-alikes above folded. `аlice` (Cyrillic а), `aIice`
 * (capital I) and `a1ice` all read as `alice`; `rnallory` as `mallory`.
 * `ALICE` does not (its `I` reads as `l`), but the case-insensitive key
 * catches that one: callers check both.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { skeletonKey } from "./lookalikes.ts";
 * assert.equal(skeletonKey("\u0430lice"), skeletonKey("alice"));
 * assert.equal(skeletonKey("rnallory"), skeletonKey("mallory"));
 * ```
 */
export function skeletonKey(name: string): string {
  let mapped = "";
  for (const char of name.normalize("NFKC").normalize("NFD")) {
    mapped += PROTOTYPES.get(char) ?? char;
  }
  let skeleton = mapped.normalize("NFD").toLowerCase();
  for (const [pattern, letter] of MULTI_LETTER) {
    skeleton = skeleton.replace(pattern, letter);
  }
  return skeleton;
}
