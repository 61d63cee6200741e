/**
 * What the nodes of a cluster tell each other besides room messages: one
 * JSON object per pub/sub message on the events channel (presence, room
 * state, moderation), and private messages on their own channel with the
 * id and the holder Redis put in front. Pure: encoding and checked decoding,
 * so a malformed event is logged and dropped rather than trusted.
 *
 * @module
 */

import type { Ban } from "../ban_list.ts";
import type { MemberState } from "./presence_state.ts";
import type { PresenceNotice } from "./presence_seam.ts";
import {
  type LeaveReason,
  type PrivateMessage,
  sanitizeText,
} from "../../protocol.ts";

/** One event between nodes. */
export type NodeEvent =
  /** A session of `node` changed; null state: it left the chat. */
  | {
    kind: "member";
    node: string;
    sid: number;
    state: MemberState | null;
    notice: PresenceNotice;
  }
  /** `node` rewrote its state in Redis (it reconnected): read it again. */
  | { kind: "sync"; node: string }
  /** `node` stopped (shutdown) or died (lost): its sessions are gone. */
  | { kind: "gone"; node: string; reason: "lost" | "shutdown" }
  /** A topic set on `node`; `id` (from Redis) is the id it is stored under. */
  | {
    kind: "topic";
    node: string;
    id: number;
    room: string;
    topic: string;
    by: string;
    ts: number;
  }
  | { kind: "motd"; node: string; lines: string[] }
  | { kind: "mute"; node: string; nick: string; muted: boolean; by: string }
  | { kind: "ban"; node: string; ban: Ban }
  | { kind: "unban"; node: string; address: string }
  /** To node `to`: disconnect its session `sid` (`detail` says by whom). */
  | { kind: "kick"; node: string; to: string; sid: number; detail: string }
  /**
   * To node `to`: private message `id` that its session `sid` sent to
   * `nick` reached `nick`'s node after they left it: tell the sender.
   */
  | {
    kind: "undelivered";
    node: string;
    to: string;
    sid: number;
    id: number;
    nick: string;
  };

/** The text of an event. */
export function encodeEvent(event: NodeEvent): string {
  return JSON.stringify(event);
}

type Fields = Record<string, unknown>;

const isString = (v: unknown): v is string => typeof v === "string";
const isNumber = (v: unknown): v is number =>
  typeof v === "number" && Number.isFinite(v);
const isStringArray = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every(isString);

const LEAVE_REASONS: readonly LeaveReason[] = [
  "part",
  "quit",
  "lost",
  "kicked",
  "banned",
  "flood",
  "slow",
  "timeout",
  "shutdown",
];

/**
 * A session's state as a node keeps it in Redis; undefined if malformed.
 */
export function decodeState(text: string): MemberState | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return readState(value) ?? undefined;
}

function readState(v: unknown): MemberState | null | undefined {
  if (v === null) return null;
  if (typeof v !== "object") return undefined;
  const s = v as Fields;
  if (
    !isString(s.nick) || !(s.away === null || isString(s.away)) ||
    typeof s.op !== "boolean" || !isString(s.address) ||
    !isStringArray(s.rooms) || !isString(s.claim) ||
    !(s.account === undefined || Number.isSafeInteger(s.account)) ||
    !(s.since === undefined || Number.isSafeInteger(s.since))
  ) {
    return undefined;
  }
  return {
    nick: s.nick,
    away: s.away === null ? null : sanitizeText(s.away),
    op: s.op,
    address: s.address,
    rooms: s.rooms,
    claim: s.claim,
    ...(typeof s.account === "number" ? { account: s.account } : {}),
    ...(typeof s.since === "number" ? { since: s.since } : {}),
  };
}

function readNotice(v: unknown): PresenceNotice | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const n = v as Fields;
  switch (n.type) {
    case "join":
    case "part":
      return isString(n.room) && isNumber(n.ts) &&
          typeof n.announce === "boolean"
        ? { type: n.type, room: n.room, ts: n.ts, announce: n.announce }
        : undefined;
    case "leave":
      if (
        !LEAVE_REASONS.includes(n.reason as LeaveReason) || !isNumber(n.ts) ||
        !isStringArray(n.announced) ||
        !(n.detail === undefined || isString(n.detail))
      ) {
        return undefined;
      }
      return {
        type: "leave",
        reason: n.reason as LeaveReason,
        ts: n.ts,
        announced: n.announced,
        ...(n.detail === undefined ? {} : { detail: sanitizeText(n.detail) }),
      };
    case "nick":
      return isString(n.old) && isNumber(n.ts)
        ? { type: "nick", old: n.old, ts: n.ts }
        : undefined;
    case "away":
    case "back":
      return isNumber(n.ts) ? { type: n.type, ts: n.ts } : undefined;
    case "state":
      return { type: "state" };
    default:
      return undefined;
  }
}

function readBan(v: unknown): Ban | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const b = v as Fields;
  if (
    !isString(b.address) || !isString(b.by) ||
    !(b.nick === undefined || isString(b.nick)) ||
    !(b.until === undefined || isNumber(b.until)) ||
    !(b.reason === undefined || isString(b.reason))
  ) {
    return undefined;
  }
  return {
    address: b.address,
    by: b.by,
    ...(b.nick === undefined ? {} : { nick: b.nick }),
    ...(b.until === undefined ? {} : { until: b.until }),
    ...(b.reason === undefined ? {} : { reason: sanitizeText(b.reason) }),
  };
}

/** Reads an event; null for anything malformed. */
export function decodeEvent(text: string): NodeEvent | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  return readEvent(value as Fields) ?? null;
}

function readEvent(e: Fields): NodeEvent | undefined {
  switch (e.kind) {
    case "member": {
      const state = readState(e.state);
      const notice = readNotice(e.notice);
      if (
        !isString(e.node) || !isNumber(e.sid) || state === undefined ||
        notice === undefined
      ) {
        return undefined;
      }
      return { kind: "member", node: e.node, sid: e.sid, state, notice };
    }
    case "sync":
      return isString(e.node) ? { kind: "sync", node: e.node } : undefined;
    case "gone":
      return isString(e.node) &&
          (e.reason === "lost" || e.reason === "shutdown")
        ? { kind: "gone", node: e.node, reason: e.reason }
        : undefined;
    case "topic":
      return isString(e.node) && isNumber(e.id) && isString(e.room) &&
          isString(e.topic) && isString(e.by) && isNumber(e.ts)
        ? {
          kind: "topic",
          node: e.node,
          id: e.id,
          room: e.room,
          topic: sanitizeText(e.topic),
          by: e.by,
          ts: e.ts,
        }
        : undefined;
    default:
      return readModeration(e);
  }
}

/** The moderation events (and the message of the day). */
function readModeration(e: Fields): NodeEvent | undefined {
  if (!isString(e.node)) return undefined;
  const node = e.node;
  switch (e.kind) {
    case "motd":
      return isStringArray(e.lines)
        ? { kind: "motd", node, lines: e.lines.map(sanitizeText) }
        : undefined;
    case "mute":
      return isString(e.nick) && typeof e.muted === "boolean" &&
          isString(e.by)
        ? { kind: "mute", node, nick: e.nick, muted: e.muted, by: e.by }
        : undefined;
    case "ban": {
      const ban = readBan(e.ban);
      return ban === undefined ? undefined : { kind: "ban", node, ban };
    }
    case "unban":
      return isString(e.address)
        ? { kind: "unban", node, address: e.address }
        : undefined;
    case "kick":
      return isString(e.to) && isNumber(e.sid) && isString(e.detail)
        ? {
          kind: "kick",
          node,
          to: e.to,
          sid: e.sid,
          detail: sanitizeText(e.detail),
        }
        : undefined;
    case "undelivered":
      return isString(e.to) && isNumber(e.sid) && isNumber(e.id) &&
          isString(e.nick)
        ? {
          kind: "undelivered",
          node,
          to: e.to,
          sid: e.sid,
          id: e.id,
          nick: e.nick,
        }
        : undefined;
    default:
      return undefined;
  }
}

/** A private message as relayed: its id and holder come from Redis. */
export interface PrivateRelay {
  /** The node whose session holds the recipient's nickname. */
  node: string;
  /** That session's id there. */
  sid: number;
  /** The message itself, with the id Redis gave it. */
  message: PrivateMessage;
  /**
   * Where its sender is (node and session), to be told if it is lost, and
   * the token of the receipt its node waits for (private_receipts.ts).
   */
  sender?: PrivateSender;
}

/** A private message's sender, as its relay names it. */
export interface PrivateSender {
  /** The sender's node. */
  node: string;
  /** The sender's session there. */
  sid: number;
  /** The receipt the sender's node waits for; none from older nodes. */
  receipt?: number;
}

/**
 * The JSON part a node publishes for a private message (no id yet), with
 * where its sender is (`sn`, `ss`).
 */
export function encodePrivateDraft(
  draft: Omit<PrivateMessage, "id">,
  sender?: PrivateSender,
): string {
  const { type, ts, from, to, text } = draft;
  return JSON.stringify({
    type,
    ts,
    from,
    to,
    text,
    ...(sender === undefined ? {} : { sn: sender.node, ss: sender.sid }),
    ...(sender?.receipt === undefined ? {} : { sr: sender.receipt }),
  });
}

/**
 * Reads a relayed private message, `<id> <node>/<sid> <json>`; null for
 * anything malformed.
 */
export function decodePrivate(line: string): PrivateRelay | null {
  const [idText, holder] = line.split(" ", 2);
  if (idText === undefined || holder === undefined) return null;
  const id = Number(idText);
  const slash = holder.indexOf("/");
  const sid = Number(holder.slice(slash + 1));
  if (
    !Number.isSafeInteger(id) || id <= 0 || slash <= 0 ||
    !Number.isSafeInteger(sid)
  ) {
    return null;
  }
  let value: unknown;
  try {
    value = JSON.parse(line.slice(idText.length + holder.length + 2));
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const v = value as Fields;
  if (
    v.type !== "private" || !isNumber(v.ts) || !isString(v.from) ||
    !isString(v.to) || !isString(v.text)
  ) {
    return null;
  }
  return {
    node: holder.slice(0, slash),
    sid,
    message: {
      type: "private",
      id,
      ts: v.ts,
      from: v.from,
      to: v.to,
      text: sanitizeText(v.text),
    },
    ...(isString(v.sn) && Number.isSafeInteger(v.ss)
      ? {
        sender: {
          node: v.sn,
          sid: v.ss as number,
          ...(Number.isSafeInteger(v.sr) && (v.sr as number) > 0
            ? { receipt: v.sr as number }
            : {}),
        },
      }
      : {}),
  };
}
