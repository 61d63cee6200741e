/**
 * Operator commands: becoming an operator, and what operators may do to keep
 * a room usable (kick, ban, mute, topic, message of the day). Everyone may
 * read the topic and the message of the day; changing anything needs the
 * operator role, which dispatch checks from each request's row before any
 * handler here runs.
 *
 * @module
 */

import { ownCopy } from "../hub.ts";
import { topicEvent } from "../rooms.ts";
import {
  banGoodbye,
  isIpAddress,
  normalizeAddress,
  parseIpAddress,
} from "../ban_list.ts";
import { foldKey } from "../../wire/names.ts";
import {
  clipText,
  describeBan,
  errorEvent,
  parseDuration,
  sanitizeText,
} from "../../protocol.ts";
import { storeFailureCause } from "../store/after_commit.ts";
import { type Call, cleanReason } from "./call.ts";
import { motdPages } from "../reply_pages.ts";
import { guardKeys, mayTry, recordWrong } from "./password_guard.ts";
import { chosenRoom } from "./membership.ts";
import { CLUSTER_DOWN } from "../nicknames.ts";

/** Who did it, for notices and logs. */
function actor(call: Call): string {
  return call.session.nick ?? call.session.label;
}

/** `/oper PASSWORD`: takes the operator role. */
function oper(call: Call<"oper">): void {
  const { hub, session } = call;
  if (!hub.operatorsEnabled) {
    return call.fail("not_permitted", "This server has no operators");
  }
  if (session.isOp) return call.fail("already_there", "You are an operator");
  const keys = guardKeys(call);
  if (!mayTry(call, keys)) return;
  if (!hub.checkOperPassword(call.request.password)) {
    recordWrong(call, keys);
    call.wrongPassword("operator");
    return;
  }
  session.isOp = true;
  hub.presence?.changed(session, { type: "state" });
  hub.log("info", "oper", { session: session.id, nick: actor(call) });
  call.tell("You are now an operator");
  for (const warning of hub.warnings) call.tell(`Warning: ${warning}`);
}

/**
 * The reason a kick or ban shows its target and the room: none while the
 * operator is muted, since a mute covers every line put before others. The
 * kick or ban itself is moderation, not speech, and still happens.
 */
function spokenReason(call: Call<"kick" | "ban">): string {
  if (!call.session.muted) {
    return cleanReason(call.request.reason, call.hub.limits);
  }
  if (cleanReason(call.request.reason, call.hub.limits) !== "") {
    call.tell("You are muted: your reason is not shown");
  }
  return "";
}

/**
 * A muted operator cannot set what others read (a topic, the message of
 * the day): told so, as a muted message is.
 */
function refusedWhileMuted(call: Call, what: string): boolean {
  if (!call.session.muted) return false;
  call.fail("muted", `You are muted: you cannot set ${what}`);
  return true;
}

/** `/kick NICK [REASON]`: disconnects someone. */
function kick(call: Call<"kick">): void {
  const { hub, session, request } = call;
  const target = hub.nicks.get(request.nick);
  if (target === undefined) return kickElsewhere(call);
  if (target === session) {
    return call.fail(
      "not_permitted",
      `You cannot kick yourself; ${
        call.session.words("/quit", 'a "quit" request')
      } leaves the chat`,
    );
  }
  const by = actor(call);
  const reason = spokenReason(call);
  hub.log("info", "kick", {
    by,
    nick: target.nick ?? undefined,
    reason: reason || undefined,
  });
  hub.disconnect(target, "kicked", `by ${by}${reason ? `: ${reason}` : ""}`);
  call.tell(`Kicked ${target.nick}`);
}

/**
 * `/kick` of someone on another node of a cluster: that node disconnects
 * them, and its notices reach every node's rooms.
 */
function kickElsewhere(call: Call<"kick">): void {
  const { hub, request } = call;
  const remote = hub.presence?.findRemote(request.nick);
  if (remote === undefined || hub.presence === null) {
    return call.fail("no_such_nick", `Nobody is called ${request.nick}`);
  }
  if (!hub.presence.available) {
    return call.fail("unavailable", `Not kicked: ${CLUSTER_DOWN}`);
  }
  const by = actor(call);
  const reason = spokenReason(call);
  hub.log("info", "kick", {
    by,
    nick: remote.nick,
    reason: reason || undefined,
  });
  hub.presence.kick(remote, by, reason);
  call.tell(`Kicked ${remote.nick}`);
}

/** `/ban NICK|IP [DURATION] [REASON]`: keeps an address out. */
function ban(call: Call<"ban">): void {
  const { hub, session, request } = call;
  const byAddress = isIpAddress(request.target);
  // In a cluster the nickname may be held on another node.
  const victim = byAddress
    ? undefined
    : hub.nicks.get(request.target) ?? hub.presence?.findRemote(request.target);
  if (!byAddress && victim === undefined) {
    return call.fail(
      "no_such_nick",
      `Nobody is called ${request.target}; to ban an address, give the IP`,
    );
  }
  const address = victim === undefined
    ? parseIpAddress(request.target)
    : normalizeAddress(victim.address);
  if (address === undefined) {
    return call.fail(
      "usage",
      `"${request.target}" is not an IP address (like 203.0.113.7 or 2001:db8::7)`,
    );
  }
  if (hub.bans.keyOf(address) === hub.bans.keyOf(session.address)) {
    return call.fail("not_permitted", "You cannot ban your own address");
  }
  const duration = banDuration(call);
  if (duration === null) return;
  const by = actor(call);
  const reason = spokenReason(call);
  const entry = {
    // An IPv6 address stands for its prefix (--ipv6-prefix).
    address: hub.bans.keyOf(address),
    by,
    ...(victim?.nick ? { nick: victim.nick } : {}),
    ...(duration === undefined ? {} : { until: hub.now() + duration }),
    ...(reason ? { reason } : {}),
  };
  // Everything that could fail is done: the list changes only now.
  if (hub.presence?.available === false) {
    return call.fail("unavailable", `Not banned: ${CLUSTER_DOWN}`);
  }
  if (!hub.bans.add(entry)) {
    return call.fail("usage", `Cannot ban ${request.target}`);
  }
  hub.presence?.banned(entry);
  hub.log("info", "ban", {
    by,
    address: entry.address,
    nick: entry.nick,
    until: entry.until === undefined
      ? "permanent"
      : new Date(entry.until).toISOString(),
  });
  // Those on other nodes are disconnected there, on hearing of the ban.
  let removed = hub.presence?.remoteAt(address) ?? 0;
  for (const other of [...hub.sessions]) {
    if (hub.bans.keyOf(other.address) !== entry.address) continue;
    hub.disconnect(other, "banned", banGoodbye(entry));
    removed++;
  }
  call.tell(`Banned ${describeBan(entry)}; ${removed} disconnected`);
}

/**
 * The ban's length in milliseconds (undefined: permanent), or null after
 * refusing one that is malformed or longer than `--max-ban-days`.
 */
function banDuration(call: Call<"ban">): number | undefined | null {
  const text = call.request.duration;
  if (text === undefined) return undefined;
  const duration = parseDuration(text);
  if (duration === undefined) {
    call.fail("usage", `Duration "${text}" is not like 30s, 10m, 12h or 7d`);
    return null;
  }
  const max = call.hub.limits.maxBanMs;
  if (duration > max) {
    const days = Math.floor(max / 86_400_000);
    call.fail(
      "usage",
      `Duration "${text}" is longer than the longest ban, ${days} days; give no duration for a permanent ban`,
    );
    return null;
  }
  return duration;
}

/** `/unban NICK|IP`: lifts a ban. */
function unban(call: Call<"unban">): void {
  const { hub, request } = call;
  if (hub.presence?.available === false) {
    return call.fail("unavailable", `Not unbanned: ${CLUSTER_DOWN}`);
  }
  const lifted = hub.bans.remove(request.target);
  if (lifted === undefined) {
    return call.fail("no_such_nick", `No ban matches ${request.target}`);
  }
  hub.presence?.unbanned(lifted.address);
  hub.log("info", "unban", { by: actor(call), address: lifted.address });
  call.tell(`Unbanned ${lifted.address}`);
}

/** `/bans`: lists them. */
function bans(call: Call<"bans">): void {
  call.reply({ type: "bans", bans: call.hub.bans.list(call.hub.now()) });
}

/** `/mute NICK` and `/unmute NICK`: the mute is kept by nickname. */
function mute(call: Call<"mute" | "unmute">): void {
  const { hub, session, request } = call;
  const local = hub.nicks.get(request.nick);
  if (local === session && request.type === "mute") {
    return call.fail("not_permitted", "You cannot mute yourself");
  }
  // In a cluster the nickname may be held on another node, which applies it.
  const target = local ?? hub.presence?.findRemote(request.nick);
  if (target === undefined || target.nick === null) {
    return call.fail("no_such_nick", `Nobody is called ${request.nick}`);
  }
  if (hub.presence?.available === false) {
    return call.fail("unavailable", `Not changed: ${CLUSTER_DOWN}`);
  }
  const by = actor(call);
  const muting = request.type === "mute";
  // Said plainly rather than "Unmuted bob" for someone who never was.
  if (hub.mutedNicks.has(foldKey(target.nick)) === muting) {
    return call.fail(
      "already_there",
      `${target.nick} is ${muting ? "already" : "not"} muted`,
    );
  }
  if (muting) hub.mutedNicks.add(foldKey(target.nick));
  else hub.mutedNicks.delete(foldKey(target.nick));
  hub.presence?.muteSet(target.nick, muting, by);
  hub.log("info", request.type, { by, nick: target.nick });
  call.tell(`${muting ? "Muted" : "Unmuted"} ${target.nick}`);
  if (local === undefined) return;
  local.muted = muting;
  local.send({
    type: "notice",
    text: muting
      ? `You have been muted by ${by}`
      : `You may talk again (unmuted by ${by})`,
  });
}

/**
 * `/topic [TEXT]`: shows the topic of the room named or the current one,
 * or (operators) sets it.
 */
function topic(call: Call<"topic">): void {
  const { hub, request } = call;
  const room = chosenRoom(call, request.room);
  if (room === null) return;
  if (request.text === undefined) return call.reply(topicEvent(room));
  if (refusedWhileMuted(call, "the topic")) return;
  if (hub.presence?.available === false) {
    return call.fail("unavailable", `Topic not set: ${CLUSTER_DOWN}`);
  }
  const by = actor(call);
  const before = { topic: room.topic, by: room.topicBy, at: room.topicAt };
  const set = {
    topic: clipText(sanitizeText(request.text), hub.limits.maxTopicLength),
    by,
    ts: hub.now(),
  };
  room.topic = set.topic;
  room.topicBy = set.by;
  room.topicAt = set.ts;
  const own = ownCopy(call.session, request.ref);
  if (hub.presence !== null) {
    // Stored on every node (this one too) under an id the cluster assigns.
    hub.presence.topicSet(room);
    hub.broadcast(room, topicEvent(room), own?.session, own?.ref);
    return;
  }
  // Stored before anyone is shown it, as a message is: a topic the
  // database refuses would come back as the old one at the next start.
  const id = hub.nextMessageId();
  hub.history.queueTopic(room.name, set, id);
  hub.localFeed.broadcastStored(
    room,
    topicEvent(room),
    id,
    (error) => {
      if (
        room.topic === set.topic && room.topicBy === set.by &&
        room.topicAt === set.ts
      ) {
        // Nobody set another since: the room keeps what its history has.
        room.topic = before.topic;
        if (before.by === undefined) delete room.topicBy;
        else room.topicBy = before.by;
        if (before.at === undefined) delete room.topicAt;
        else room.topicAt = before.at;
      }
      call.session.send(errorEvent(
        "not_stored",
        `Topic not set: the server could not store it (${
          storeFailureCause(error)
        }); try again later`,
        request.ref,
      ));
    },
    own?.session,
    own?.ref,
  );
}

/** `/motd [TEXT]`: shows the message of the day, or (operators) sets it. */
function motd(call: Call<"motd">): void {
  const { hub, request } = call;
  if (request.text === undefined) {
    return call.replyPaged(() => motdPages(hub.motd));
  }
  if (refusedWhileMuted(call, "the message of the day")) return;
  if (hub.presence?.available === false) {
    return call.fail("unavailable", `Not set: ${CLUSTER_DOWN}`);
  }
  hub.motd = [clipText(sanitizeText(request.text), hub.limits.maxTopicLength)]
    .filter((line) => line !== "");
  try {
    hub.history.setMotd(hub.motd);
  } catch (error) {
    hub.log("error", "motd_store_failed", { error: String(error) });
    return call.tell(
      "Message of the day set, but it could not be saved: a restart will lose it",
    );
  }
  hub.presence?.motdSet(hub.motd);
  hub.log("info", "motd", { by: actor(call) });
  call.tell("Message of the day set");
}

/** The operator requests' handlers, by request type. */
export const OPERATOR_HANDLERS = {
  oper,
  kick,
  ban,
  unban,
  bans,
  mute,
  unmute: mute,
  topic,
  motd,
} as const;
