/**
 * Operator commands: becoming an operator, and what operators may do to keep
 * a room usable (kick, ban, mute, topic, message of the day). Everyone may
 * read the topic and the message of the day; changing anything needs the
 * operator role, and a refusal says so.
 *
 * @module
 */

import {
  type ChatHub,
  cleanReason,
  topicEvent,
  withRef,
  wrongPassword,
} from "../hub.ts";
import { isIpAddress, normalizeAddress } from "../ban_list.ts";
import { foldKey } from "../../wire/names.ts";
import {
  type ClientRequest,
  describeBan,
  errorEvent,
  parseDuration,
  sanitizeText,
} from "../../protocol.ts";
import type { Session } from "../session.ts";

const OPERATOR_REQUEST_TYPES = new Set(
  [
    "oper",
    "kick",
    "ban",
    "unban",
    "bans",
    "mute",
    "unmute",
    "topic",
    "motd",
  ] as const,
);

/** The requests this module handles. */
export type OperatorRequest = ClientRequest & {
  type: typeof OPERATOR_REQUEST_TYPES extends Set<infer T> ? T : never;
};

/** Whether `request` is one of the operator module's. */
export function isOperatorRequest(
  request: ClientRequest,
): request is OperatorRequest {
  return (OPERATOR_REQUEST_TYPES as Set<string>).has(request.type);
}

/** Longest topic or message of the day, in characters. */
const MAX_TOPIC_LENGTH = 300;

/** Applies an operator request. Exhaustive over {@linkcode OperatorRequest}. */
export function handleOperatorRequest(
  hub: ChatHub,
  session: Session,
  request: OperatorRequest,
): void {
  const ref = request.ref;
  const fail = (code: Parameters<typeof errorEvent>[0], message: string) =>
    session.send(errorEvent(code, message, ref));
  const tell = (text: string) =>
    session.send({ type: "notice", text, ...withRef(ref) });
  const readOnly = (request.type === "topic" || request.type === "motd") &&
    request.text === undefined;
  if (request.type !== "oper" && !readOnly && !session.isOp) {
    return fail(
      "not_permitted",
      `Only operators may use /${request.type}; /oper PASSWORD if you are one`,
    );
  }
  const actor = session.nick ?? session.label;
  switch (request.type) {
    case "oper":
      if (!hub.operatorsEnabled) {
        return fail("not_permitted", "This server has no operators");
      }
      if (session.isOp) return fail("already_there", "You are an operator");
      if (!hub.checkOperPassword(request.password)) {
        wrongPassword(hub, session, "operator", ref);
        return;
      }
      session.isOp = true;
      hub.log("info", "oper", { session: session.id, nick: actor });
      tell("You are now an operator");
      return;
    case "kick": {
      const target = hub.nicks.get(request.nick);
      if (target === undefined) {
        return fail("no_such_nick", `Nobody is called ${request.nick}`);
      }
      const reason = cleanReason(request.reason);
      hub.log("info", "kick", {
        by: actor,
        nick: target.nick ?? undefined,
        reason: reason || undefined,
      });
      hub.disconnect(
        target,
        "kicked",
        `by ${actor}${reason ? `: ${reason}` : ""}`,
      );
      tell(`Kicked ${target.nick}`);
      return;
    }
    case "ban": {
      const victim = isIpAddress(request.target)
        ? undefined
        : hub.nicks.get(request.target);
      if (!isIpAddress(request.target) && victim === undefined) {
        return fail(
          "no_such_nick",
          `Nobody is called ${request.target}; to ban an address, give the IP`,
        );
      }
      const address = normalizeAddress(victim?.address ?? request.target);
      if (address === normalizeAddress(session.address)) {
        return fail("not_permitted", "You cannot ban your own address");
      }
      const duration = request.duration === undefined
        ? undefined
        : parseDuration(request.duration);
      if (request.duration !== undefined && duration === undefined) {
        return fail(
          "usage",
          `Duration "${request.duration}" is not like 30s, 10m, 12h or 7d`,
        );
      }
      const reason = cleanReason(request.reason);
      const ban = {
        address,
        by: actor,
        ...(victim?.nick ? { nick: victim.nick } : {}),
        ...(duration === undefined ? {} : { until: hub.now() + duration }),
        ...(reason ? { reason } : {}),
      };
      hub.bans.add(ban);
      hub.log("info", "ban", {
        by: actor,
        address,
        nick: ban.nick,
        until: ban.until === undefined
          ? "permanent"
          : new Date(ban.until).toISOString(),
      });
      let removed = 0;
      for (const other of [...hub.sessions]) {
        if (normalizeAddress(other.address) !== address) continue;
        hub.disconnect(
          other,
          "banned",
          `by ${actor}${reason ? `: ${reason}` : ""}`,
        );
        removed++;
      }
      tell(`Banned ${describeBan(ban)}; ${removed} disconnected`);
      return;
    }
    case "unban": {
      const lifted = hub.bans.remove(request.target);
      if (lifted === undefined) {
        return fail("no_such_nick", `No ban matches ${request.target}`);
      }
      hub.log("info", "unban", { by: actor, address: lifted.address });
      tell(`Unbanned ${lifted.address}`);
      return;
    }
    case "bans":
      session.send({
        type: "bans",
        bans: hub.bans.list(hub.now()),
        ...withRef(ref),
      });
      return;
    case "mute":
    case "unmute": {
      const target = hub.nicks.get(request.nick);
      if (target === undefined || target.nick === null) {
        return fail("no_such_nick", `Nobody is called ${request.nick}`);
      }
      const muting = request.type === "mute";
      target.muted = muting;
      if (muting) hub.mutedNicks.add(foldKey(target.nick));
      else hub.mutedNicks.delete(foldKey(target.nick));
      hub.log("info", request.type, { by: actor, nick: target.nick });
      target.send({
        type: "notice",
        text: muting
          ? `You have been muted by ${actor}`
          : `You may talk again (unmuted by ${actor})`,
      });
      tell(`${muting ? "Muted" : "Unmuted"} ${target.nick}`);
      return;
    }
    case "topic": {
      const room = session.room;
      if (room === null) return fail("not_ready", "No room");
      if (request.text === undefined) {
        session.send({ ...topicEvent(room), ...withRef(ref) });
        return;
      }
      room.topic = sanitizeText(request.text).slice(0, MAX_TOPIC_LENGTH);
      room.topicBy = actor;
      room.topicAt = hub.now();
      hub.history.queueTopic(
        room.name,
        { topic: room.topic, by: actor, ts: room.topicAt },
        hub.nextMessageId(),
      );
      hub.broadcast(room, topicEvent(room));
      return;
    }
    case "motd":
      if (request.text === undefined) {
        session.send({ type: "motd", lines: hub.motd, ...withRef(ref) });
        return;
      }
      hub.motd = [sanitizeText(request.text).slice(0, MAX_TOPIC_LENGTH)]
        .filter((line) => line !== "");
      hub.log("info", "motd", { by: actor });
      tell("Message of the day set");
      return;
  }
}
