/**
 * Per-address limits count an IPv6 host by its prefix (`--ipv6-prefix`, a
 * /64 by default): a host is given a whole /64, and stepping from one of
 * its addresses to the next must not buy it a fresh allowance of
 * registrations, rooms, password guesses, or a way around a ban. Driven in
 * process, since only loopback addresses exist for real sockets here.
 */

import assert from "node:assert/strict";
import { Hub } from "./hub.ts";
import { handleLine } from "./commands/dispatch.ts";
import { addressKey } from "./admission.ts";
import { recordingSession } from "../tests/helpers.ts";
import type { Limits } from "./limits.ts";
import type { ServerEvent } from "../protocol.ts";

function testHub(limits: Partial<Limits>): Hub & Disposable {
  const hub = new Hub({
    operatorPassword: "op-secret",
    limits: { floodRate: 0, passwordIterations: 1000, ...limits },
  }) as Hub & Disposable;
  hub[Symbol.dispose] = () => {
    for (const session of hub.sessions) session.closeSocket();
    hub.history.close();
  };
  return hub;
}

/** A JSON session from `address`, logged in as `nick`; its events. */
async function from(hub: Hub, address: string, nick: string) {
  const { session, events } = recordingSession(hub, address);
  const send = async (request: object): Promise<ServerEvent> => {
    const ref = crypto.randomUUID();
    await handleLine(hub, session, JSON.stringify({ ...request, ref }));
    hub.commitNow();
    await session.outbound.idle();
    const reply = events.findLast((event) =>
      (event as { ref?: string }).ref === ref
    );
    assert.ok(reply, `no reply to ${JSON.stringify(request)}`);
    return reply;
  };
  await send({ type: "hello", nick });
  return { session, send };
}

const code = (event: ServerEvent) =>
  event.type === "error" ? event.code : event.type;

Deno.test("addressKey: an IPv6 address by its prefix; IPv4 and loopback as themselves", () => {
  assert.equal(addressKey("2001:db8:1:2:3:4:5:6", 64), "2001:db8:1:2::/64");
  assert.equal(addressKey("2001:db8:1:2::", 64), "2001:db8:1:2::/64");
  assert.equal(addressKey("2001:db8:1:2ff:3::", 56), "2001:db8:1:200::/56");
  assert.equal(addressKey("2001:db8:abcd:12::1", 48), "2001:db8:abcd::/48");
  assert.equal(addressKey("fe80::1", 10), "fe80::/10");
  assert.equal(addressKey("2001:db8::1", 128), "2001:db8::1");
  assert.equal(addressKey("::1", 64), "::1");
  assert.equal(addressKey("198.51.100.7", 64), "198.51.100.7");
  assert.equal(addressKey("unknown", 64), "unknown");
});

Deno.test("one IPv6 /64: registrations, rooms and password guesses are counted once for all its addresses", async () => {
  using hub = testHub({
    maxRegistrations: 1,
    maxRoomsPerAddress: 1,
    loginFailures: 1,
  });
  const first = await from(hub, "2001:db8:1:2::a", "first");
  const second = await from(hub, "2001:db8:1:2:ffff::b", "second");
  const elsewhere = await from(hub, "2001:db8:1:3::a", "elsewhere");

  assert.equal(
    code(await first.send({ type: "register", password: "password-1" })),
    "notice",
  );
  assert.equal(
    code(await second.send({ type: "register", password: "password-2" })),
    "rate_limited",
  );
  assert.equal(
    code(await elsewhere.send({ type: "register", password: "password-3" })),
    "notice",
  );

  assert.equal(code(await first.send({ type: "join", room: "#one" })), "join");
  assert.equal(code(await second.send({ type: "join", room: "#two" })), "full");
  assert.equal(
    code(await elsewhere.send({ type: "join", room: "#three" })),
    "join",
  );

  assert.equal(
    code(await first.send({ type: "oper", password: "guess-1" })),
    "bad_password",
  );
  assert.equal(
    code(await second.send({ type: "oper", password: "guess-2" })),
    "rate_limited",
  );
  assert.equal(
    code(await elsewhere.send({ type: "oper", password: "op-secret" })),
    "notice",
  );
});

Deno.test("a ban on an IPv6 address covers its /64, and /unban of any of them lifts it", async () => {
  using hub = testHub({});
  const op = await from(hub, "192.0.2.1", "op");
  await op.send({ type: "oper", password: "op-secret" });
  const victim = await from(hub, "2001:db8:1:2::a", "victim");
  const neighbour = await from(hub, "2001:db8:1:2::b", "neighbour");
  const reply = await op.send({ type: "ban", target: "victim" });
  assert.equal(code(reply), "notice");
  assert.match(
    (reply as { text: string }).text,
    /^Banned 2001:db8:1:2::\/64 \(victim, permanent\); 2 disconnected$/,
  );
  assert.equal(victim.session.state, "closing");
  assert.equal(neighbour.session.state, "closing");
  const now = hub.now();
  assert.ok(
    hub.bans.find("2001:db8:1:2:9::9", now),
    "another address of the /64",
  );
  assert.equal(hub.bans.find("2001:db8:1:3::a", now), undefined);
  assert.equal(
    code(await op.send({ type: "unban", target: "2001:db8:1:2::77" })),
    "notice",
  );
  assert.equal(hub.bans.find("2001:db8:1:2::a", now), undefined);
});
