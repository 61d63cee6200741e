import assert from "node:assert/strict";
import {
  BanList,
  isIpAddress,
  normalizeAddress,
  parseIpAddress,
} from "./ban_list.ts";
import { describeBan } from "../protocol.ts";

Deno.test("parseIpAddress takes exact addresses in one canonical form", () => {
  const cases: Array<[string, string | undefined]> = [
    ["127.0.0.1", "127.0.0.1"],
    ["127.0.0.02", undefined],
    ["127.0.0.256", undefined],
    ["010.0.0.1", undefined],
    ["1.2.3", undefined],
    ["1.2.3.4.5", undefined],
    ["::1", "::1"],
    ["2001:DB8:0:0:0:0:0:7", "2001:db8::7"],
    ["::ffff:10.1.2.3", "10.1.2.3"],
    ["::ffff:a01:203", "10.1.2.3"],
    ["1:2:3", undefined],
    ["::g", undefined],
    ["fe80::1%eth0", undefined],
    ["[::1]", undefined],
  ];
  for (const [text, expected] of cases) {
    assert.equal(parseIpAddress(text), expected, text);
  }
  assert.equal(isIpAddress("127.0.0.02"), true, "meant as an address");
  assert.equal(isIpAddress("1234"), false, "a nickname of digits");
  assert.equal(normalizeAddress("::FFFF:127.0.0.1"), "127.0.0.1");
});

Deno.test("BanList refuses what could break it later, and stays usable", () => {
  const bans = new BanList();
  assert.equal(bans.add({ address: "127.0.0.02", by: "op" }), false);
  assert.equal(
    bans.add({ address: "10.0.0.1", by: "op", until: 8.64e15 + 1 }),
    false,
    "an end no Date can hold",
  );
  assert.equal(bans.add({ address: "10.0.0.1", by: "op", until: NaN }), false);
  assert.deepEqual(bans.list(0), []);
  assert.equal(
    bans.add({ address: "10.0.0.1", by: "op", until: 60_000 }),
    true,
  );
  assert.equal(bans.find("::ffff:10.0.0.1", 0)?.address, "10.0.0.1");
  assert.match(describeBan(bans.list(0)[0]!), /^10\.0\.0\.1 \(until/);
  assert.equal(bans.find("10.0.0.1", 60_000), undefined, "expired");
});
