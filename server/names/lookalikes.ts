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

/** A letter of the Latin script (`a`, `ß`, fullwidth `ａ`). */
const LATIN_LETTER = /\p{Script=Latin}/u;

/** Any letter. */
const LETTER = /\p{L}/u;

/** A prototype made only of basic Latin letters. */
const BASIC_LATIN = /^[A-Za-z]+$/;

/**
 * Why a new name is refused for mixing Latin letters with letters of another
 * script that pass for Latin ones (`аlice` with a Cyrillic а, `#dеv` with a
 * Cyrillic е), or null if it does not: the mixed-script check of TR39,
 * narrowed to what fools a Latin reader. The skeleton already stops such a
 * name while the real one is in use; this also stops it while the real one
 * is away, so nobody takes `аlice` the evening alice is offline. Names wholly
 * in one script (`Дмитрий`, `李雷`) and mixes without look-alikes pass.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mixedScriptRefusal } from "./lookalikes.ts";
 * assert.equal(mixedScriptRefusal("Nickname", "\u0430lice") !== null, true);
 * assert.equal(mixedScriptRefusal("Nickname", "Дмитрий"), null);
 * assert.equal(mixedScriptRefusal("Nickname", "zoë"), null);
 * ```
 */
export function mixedScriptRefusal(
  what: "Nickname" | "Room name",
  name: string,
): string | null {
  let latin = false;
  let lookalike: string | null = null;
  for (const char of name.normalize("NFD")) {
    if (LATIN_LETTER.test(char)) {
      latin = true;
    } else if (LETTER.test(char)) {
      const prototype = PROTOTYPES.get(char);
      if (prototype !== undefined && BASIC_LATIN.test(prototype)) {
        lookalike ??= char;
      }
    }
  }
  if (!latin || lookalike === null) return null;
  const code = lookalike.codePointAt(0)!.toString(16).toUpperCase()
    .padStart(4, "0");
  return `${what} mixes Latin letters with "${lookalike}" (U+${code}), a letter of another script that looks Latin; choose another`;
}
