import assert from "node:assert/strict";
import { DEFAULT_LIMITS, LIMIT_SPECS, parseLimitFlags } from "./limits.ts";
import { parseServerArgs } from "./options.ts";

Deno.test("parseLimitFlags takes defaults, units and refusals from the table", () => {
  assert.deepEqual(parseLimitFlags({}), { ok: true, limits: DEFAULT_LIMITS });
  const parsed = parseLimitFlags({
    "max-line": "512",
    "write-timeout": "0.25",
    history: "0",
  });
  assert.ok(parsed.ok);
  assert.equal(parsed.limits.maxLineBytes, 512);
  assert.equal(parsed.limits.writeTimeoutMs, 250);
  assert.equal(parsed.limits.historyLength, 0);
  for (
    const [flag, value] of [
      ["max-line", "0"],
      ["max-line", "1.5"],
      ["max-line", "-1"],
      ["max-line", "lots"],
      ["write-timeout", ""],
      ["history", "Infinity"],
    ]
  ) {
    const result = parseLimitFlags({ [flag!]: value });
    assert.equal(result.ok, false, `--${flag} ${value}`);
    assert.match(
      (result as { error: string }).error,
      new RegExp(`^--${flag} must be`),
    );
  }
});

Deno.test("parseServerArgs reads every limit flag", () => {
  const args = LIMIT_SPECS.flatMap((
    spec,
  ) => [`--${spec.flag}`, String(spec.default + 1)]);
  const options = parseServerArgs(args);
  for (const spec of LIMIT_SPECS) {
    const scale = { seconds: 1000, days: 86_400_000 }[spec.unit as string] ?? 1;
    const expected = (spec.default + 1) * scale;
    assert.equal(options.limits?.[spec.key], expected, spec.flag);
  }
});

Deno.test("README documents every limit with its flag and default", async () => {
  const readme = await Deno.readTextFile(
    new URL("../README.md", import.meta.url),
  );
  for (const spec of LIMIT_SPECS) {
    const row = readme.split("\n").find((line) =>
      line.split("|")[1]?.trim() === `\`--${spec.flag}\``
    );
    assert.ok(row, `README has no table row for --${spec.flag}`);
    assert.ok(
      row.includes(String(spec.default)),
      `README line for --${spec.flag} lacks its default ${spec.default}`,
    );
  }
});
