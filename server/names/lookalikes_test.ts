import assert from "node:assert/strict";
import { mixedScriptRefusal, skeletonKey } from "./lookalikes.ts";
import { CONFUSABLE_ROWS } from "./confusables_data.ts";
import { checkNick, NameRegistry } from "../../wire/names.ts";

Deno.test("skeletonKey equates Latin look-alikes from other scripts", () => {
  const lookalikes = [
    "\u0430lice", // Cyrillic а
    "alic\u0435", // Cyrillic е
    "aIice", // capital I for l
    "a1ice", // digit one for l
    "\u03b1lice", // Greek alpha
    "al\u0456ce", // Cyrillic і
    "al\u0131ce", // dotless ı
    "a\u217cice", // Roman numeral fifty
    "\u{1d41a}lice", // mathematical bold a
    "al\u13a5ce", // Cherokee i
    "alic\u0435".normalize("NFD"),
  ];
  for (const nick of lookalikes) {
    assert.equal(skeletonKey(nick), skeletonKey("alice"), nick);
  }
  assert.equal(skeletonKey("b0b"), skeletonKey("bob"));
  assert.equal(skeletonKey("b\u0585b"), skeletonKey("bob"), "Armenian o");
  assert.equal(skeletonKey("\u13b3ally"), skeletonKey("Wally"), "Cherokee W");
  assert.equal(skeletonKey("\u0501ev"), skeletonKey("dev"), "Cyrillic komi de");
  assert.notEqual(skeletonKey("bob"), skeletonKey("rob"));
  assert.notEqual(skeletonKey("alice"), skeletonKey("alicia"));
});

Deno.test("skeletonKey equates multi-letter look-alikes", () => {
  assert.equal(skeletonKey("rnallory"), skeletonKey("mallory"));
  assert.equal(skeletonKey("RNallory"), skeletonKey("mallory"));
  assert.equal(skeletonKey("vvendy"), skeletonKey("wendy"));
  assert.equal(skeletonKey("VVendy"), skeletonKey("Wendy"));
  assert.equal(skeletonKey("\u026fendy"), skeletonKey("wendy"), "turned m");
  assert.notEqual(skeletonKey("vendy"), skeletonKey("wendy"));
});

Deno.test("the table is Unicode's data, not a hand-picked list", () => {
  // confusables.txt maps these; a hand-typed table had none of them.
  const rows = new Map(
    CONFUSABLE_ROWS.map((row) => row.split("\t") as [string, string]),
  );
  assert.equal(rows.get("m"), "rn");
  assert.equal(rows.get("\u0435"), "e");
  assert.equal(rows.get("\u13a5"), "i");
  assert.ok(CONFUSABLE_ROWS.length > 1500, `${CONFUSABLE_ROWS.length} rows`);
  for (const row of CONFUSABLE_ROWS) {
    const [source] = row.split("\t");
    assert.equal([...source!].length, 1, row);
  }
});

Deno.test("a registry with the skeleton refuses look-alike nicknames", () => {
  const registry = new NameRegistry<string>(skeletonKey);
  registry.add("mallory", "owner");
  registry.add("wendy", "owner-2");
  for (
    const name of ["rnallory", "Mallory", "rnaIlory", "vvendy", "\u0461endy"]
  ) {
    assert.ok(checkNick(name).ok, name);
    assert.notEqual(registry.find(name), undefined, name);
  }
  assert.equal(registry.find("wendi"), undefined);
});

Deno.test("mixedScriptRefusal: Latin mixed with letters that pass for Latin", () => {
  for (
    const name of [
      "\u0430lice",
      "d\u0435v",
      "p\u0430ypal",
      "al\u13a5ce",
      "b\u03bfb",
    ]
  ) {
    assert.match(
      mixedScriptRefusal("Nickname", name) ?? "",
      /^Nickname mixes Latin letters with/,
      name,
    );
  }
  for (
    const name of [
      "alice",
      "zo\u00eb",
      "\u0414\u043c\u0438\u0442\u0440\u0438\u0439",
      "\u0441\u043e\u0440", // сор, all Cyrillic: the skeleton guards it
      "\u674e\u96f7",
      "\u592a\u90ceabc",
      "\u03b1\u03b2\u03b3",
      "\uff41lice",
      "bob_2",
    ]
  ) {
    assert.equal(mixedScriptRefusal("Nickname", name), null, name);
  }
});
