import assert from "node:assert/strict";
import { linkParts } from "./links.ts";

Deno.test("linkParts links http and https addresses only, and keeps the text whole", () => {
  const cases: Array<[string, string[]]> = [
    ["no address here", []],
    ["https://a.example", ["https://a.example/"]],
    ["HTTP://A.example/Path?q=1&r=2#f", ["http://a.example/Path?q=1&r=2#f"]],
    ["(see https://a.example/wiki/X_(y))", ["https://a.example/wiki/X_(y)"]],
    ["(see https://a.example/x).", ["https://a.example/x"]],
    ["two: http://a.example, http://b.example!", [
      "http://a.example/",
      "http://b.example/",
    ]],
    ['<a href="https://a.example/">x</a>', ["https://a.example/"]],
    ["https://a.example/<script>", ["https://a.example/"]],
    ["javascript:alert(1) data:text/html,<b> ftp://a.example", []],
    ["xhttps://a.example is no word start", []],
    ["https:// alone", []],
  ];
  for (const [text, hrefs] of cases) {
    const parts = linkParts(text);
    assert.equal(parts.map((part) => part.text).join(""), text, text);
    assert.deepEqual(
      parts.flatMap((part) => part.href === undefined ? [] : [part.href]),
      hrefs,
      text,
    );
  }
});
