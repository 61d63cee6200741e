/**
 * What counts as a nickname or a room name, and when two names are the same
 * name. Pure, like protocol.ts; the server's registry uses these keys.
 *
 * Two names collide when they fold to the same case-insensitive key, or when
 * they look alike (Latin `a` vs Cyrillic `а`, `l` vs `I`, `rn` vs `m`): a
 * {@linkcode NameRegistry} holds both keys and a new name is refused if
 * either is in use, so case-insensitivity and look-alike checks never weaken
 * one another. The look-alike key comes from Unicode's confusables data,
 * which only the server needs (server/names/lookalikes.ts); the client uses
 * the fold key alone.
 *
 * @module
 */

/**
 * Longest nickname, in characters (code points). Part of the protocol, not a
 * server flag: clients check names with the same rules before sending.
 */
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

/**
 * Most combining marks in a row after one letter. Scripts that need marks
 * stack two or three (Vietnamese tone over a vowel sign, Devanagari vowel
 * signs with a nasal mark); a longer run only smears over the neighbouring
 * text ("Zalgo") and makes one name look like several.
 */
export const MAX_MARKS_PER_LETTER = 4;

const MARK_RUN = new RegExp(`\\p{M}{${MAX_MARKS_PER_LETTER + 1}}`, "u");

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
  if (MARK_RUN.test(nick)) {
    return {
      ok: false,
      reason:
        `Nickname stacks more than ${MAX_MARKS_PER_LETTER} accents on one letter`,
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
    // Said as what is wrong: "##" holds only #, so a list of what a name
    // may hold that began with # read as if it were allowed.
    return {
      ok: false,
      reason: bare.includes("#")
        ? "Room name has one #, at its start, then letters, digits, _ and -"
        : /^\p{M}/u.test(bare)
        ? "Room name starts with an accent, which needs a letter before it"
        : "Room name may hold only letters, digits, _ and - after its #",
    };
  }
  if (MARK_RUN.test(bare)) {
    return {
      ok: false,
      reason:
        `Room name stacks more than ${MAX_MARKS_PER_LETTER} accents on one letter`,
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
 * Owners of names, found by either identity key. Used for nicknames and rooms
 * so a new name matches a taken one by case or by looks.
 */
export class NameRegistry<Owner> {
  #byFold = new Map<string, Owner>();
  #bySkeleton = new Map<string, Owner>();
  readonly #skeletonKey: (name: string) => string;

  /**
   * Starts empty. The look-alike key is passed in so wire/ carries none of the
   * server's tables.
   * @param skeletonKey the look-alike identity of a name (the server passes
   *   the TR39 skeleton from server/names/lookalikes.ts)
   */
  constructor(skeletonKey: (name: string) => string) {
    this.#skeletonKey = skeletonKey;
  }

  /** The owner of a name that collides with `name`, if any. */
  find(name: string): Owner | undefined {
    return this.#byFold.get(foldKey(name)) ??
      this.#bySkeleton.get(this.#skeletonKey(name));
  }

  /** The owner of exactly this name, ignoring case only (for addressing). */
  get(name: string): Owner | undefined {
    return this.#byFold.get(foldKey(name));
  }

  /** Claims `name` for `owner`; the caller has checked {@linkcode find}. */
  add(name: string, owner: Owner): void {
    this.#byFold.set(foldKey(name), owner);
    this.#bySkeleton.set(this.#skeletonKey(name), owner);
  }

  /** Releases `name` if `owner` holds it. */
  delete(name: string, owner: Owner): void {
    const fold = foldKey(name);
    if (this.#byFold.get(fold) === owner) this.#byFold.delete(fold);
    const skeleton = this.#skeletonKey(name);
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
