/**
 * What counts as a nickname or a room name, and when two names are the same
 * name. Pure, like protocol.ts; the server's registry uses these keys.
 *
 * Two nicknames collide when they fold to the same case-insensitive key, or
 * when they look alike: Latin `a` vs Cyrillic `а`, `l` vs `I`, fullwidth
 * letters, and the like. Each name has both keys and a new name is refused if
 * either is in use, so case-insensitivity and look-alike checks never weaken
 * one another.
 *
 * @module
 */

/** Longest nickname, in characters (code points). */
export const MAX_NICK_LENGTH = 32;

/** Longest room name after the leading `#`, in characters. */
export const MAX_ROOM_LENGTH = 32;

/**
 * Letters of any script, digits, `_` and `-`; combining marks may follow a
 * letter (scripts such as Devanagari need them) but cannot start a name.
 * Invisible and bidirectional-control characters are not in these classes,
 * so they can never be part of a name.
 */
const NAME_PATTERN = /^[\p{L}\p{Nd}_-][\p{L}\p{M}\p{Nd}_-]*$/u;

/**
 * Characters that render as nothing, such as the combining grapheme joiner
 * and variation selectors: they are marks, so the pattern above would let
 * them through, and `ali\u034fce` would pose as `alice`.
 */
const INVISIBLE = /\p{Default_Ignorable_Code_Point}/u;

/** A verdict on a proposed name: the normalized name, or why it is refused. */
export type NameCheck = { ok: true; name: string } | {
  ok: false;
  reason: string;
};

function characterCount(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

/**
 * Checks a proposed nickname.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkNick } from "./names.ts";
 * assert.deepEqual(checkNick("zoë_2"), { ok: true, name: "zoë_2" });
 * assert.equal(checkNick("bad nick").ok, false);
 * ```
 */
export function checkNick(proposed: string): NameCheck {
  const nick = proposed.normalize("NFC");
  const length = characterCount(nick);
  if (length === 0) return { ok: false, reason: "Nickname is empty" };
  if (length > MAX_NICK_LENGTH) {
    return {
      ok: false,
      reason: `Nickname is longer than ${MAX_NICK_LENGTH} characters`,
    };
  }
  if (!NAME_PATTERN.test(nick) || INVISIBLE.test(nick)) {
    return {
      ok: false,
      reason: "Nickname may hold only letters, digits, _ and -",
    };
  }
  return { ok: true, name: nick };
}

/**
 * Checks a proposed room name; a missing `#` is added, as people often type
 * `/join dev`.
 */
export function checkRoom(proposed: string): NameCheck {
  const bare = (proposed.startsWith("#") ? proposed.slice(1) : proposed)
    .normalize("NFC");
  const length = characterCount(bare);
  if (length === 0) return { ok: false, reason: "Room name is empty" };
  if (length > MAX_ROOM_LENGTH) {
    return {
      ok: false,
      reason: `Room name is longer than ${MAX_ROOM_LENGTH} characters`,
    };
  }
  if (!NAME_PATTERN.test(bare) || INVISIBLE.test(bare)) {
    return {
      ok: false,
      reason: "Room name may hold only #, letters, digits, _ and -",
    };
  }
  return { ok: true, name: `#${bare}` };
}

/**
 * The case-insensitive identity of a name: compatibility-normalized (so
 * fullwidth `ａ` is `a`) and lower-cased.
 */
export function foldKey(name: string): string {
  return name.normalize("NFKC").toLowerCase();
}

/**
 * Characters that render like a Latin letter or digit in common fonts, mapped
 * to it. Drawn from Unicode's confusables data (TR39) for the Cyrillic, Greek
 * and Latin blocks people actually use to impersonate; upper- and lower-case
 * forms are both listed because the map is applied before lower-casing.
 */
const LOOKALIKES: Readonly<Record<string, string>> = {
  // Latin and digits that are confused with one another
  "I": "l",
  "1": "l",
  "|": "l",
  "ı": "i",
  "ɩ": "i",
  "0": "o",
  "ɡ": "g",
  "ȷ": "j",
  // Cyrillic
  "А": "a",
  "а": "a",
  "В": "b",
  "Е": "e",
  "е": "e",
  "Ё": "e",
  "ё": "e",
  "З": "3",
  "І": "l",
  "і": "i",
  "Ї": "l",
  "ї": "i",
  "Ј": "j",
  "ј": "j",
  "К": "k",
  "к": "k",
  "М": "m",
  "Н": "h",
  "һ": "h",
  "О": "o",
  "о": "o",
  "Р": "p",
  "р": "p",
  "С": "c",
  "с": "c",
  "Т": "t",
  "У": "y",
  "у": "y",
  "Х": "x",
  "х": "x",
  "Ѕ": "s",
  "ѕ": "s",
  "ԁ": "d",
  "Ԛ": "q",
  "ԛ": "q",
  "Ԝ": "w",
  "ԝ": "w",
  "Ү": "y",
  "ү": "y",
  "Ӏ": "l",
  "ӏ": "l",
  "ь": "b",
  "п": "n",
  // Greek
  "Α": "a",
  "α": "a",
  "Β": "b",
  "Ε": "e",
  "Ζ": "z",
  "Η": "h",
  "Ι": "l",
  "ι": "i",
  "Κ": "k",
  "κ": "k",
  "Μ": "m",
  "Ν": "n",
  "ν": "v",
  "Ο": "o",
  "ο": "o",
  "Ρ": "p",
  "ρ": "p",
  "Τ": "t",
  "Υ": "y",
  "υ": "u",
  "Χ": "x",
  "χ": "x",
  "ϲ": "c",
  "ϳ": "j",
};

/**
 * The look-alike identity of a name: what it reads as on screen. `аlice`
 * (Cyrillic а) and `aIice` (capital I) both read as `alice`. `ALICE` does not
 * (its `I` reads as `l`), but the fold key catches it: both keys are checked.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { skeletonKey } from "./names.ts";
 * assert.equal(skeletonKey("\u0430lice"), skeletonKey("alice"));
 * assert.equal(skeletonKey("aIice"), skeletonKey("alice"));
 * ```
 */
export function skeletonKey(name: string): string {
  let skeleton = "";
  for (const char of name.normalize("NFKC")) {
    skeleton += LOOKALIKES[char] ?? char;
  }
  return skeleton.toLowerCase();
}

/**
 * Owners of names, found by either identity key. Used for nicknames so a new
 * name is refused when it matches a taken one by case or by looks.
 */
export class NameRegistry<Owner> {
  #byFold = new Map<string, Owner>();
  #bySkeleton = new Map<string, Owner>();

  /** The owner of a name that collides with `name`, if any. */
  find(name: string): Owner | undefined {
    return this.#byFold.get(foldKey(name)) ??
      this.#bySkeleton.get(skeletonKey(name));
  }

  /** The owner of exactly this name, ignoring case only (for addressing). */
  get(name: string): Owner | undefined {
    return this.#byFold.get(foldKey(name));
  }

  /** Claims `name` for `owner`; the caller has checked {@linkcode find}. */
  add(name: string, owner: Owner): void {
    this.#byFold.set(foldKey(name), owner);
    this.#bySkeleton.set(skeletonKey(name), owner);
  }

  /** Releases `name` if `owner` holds it. */
  delete(name: string, owner: Owner): void {
    const fold = foldKey(name);
    if (this.#byFold.get(fold) === owner) this.#byFold.delete(fold);
    const skeleton = skeletonKey(name);
    if (this.#bySkeleton.get(skeleton) === owner) {
      this.#bySkeleton.delete(skeleton);
    }
  }

  /** Every owner, once each. */
  owners(): IterableIterator<Owner> {
    return this.#byFold.values();
  }

  /** How many names are held. */
  get size(): number {
    return this.#byFold.size;
  }
}
