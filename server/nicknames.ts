/**
 * Who holds which nickname. The nick registry, `session.nick` and the mutes
 * (kept by nickname so they survive a reconnect) change together here and
 * nowhere else: taking a nickname at login, renaming (`/nick`, `/identify`
 * under another name) and letting it go at disconnect.
 *
 * @module
 */

import type { Hub, OwnCopy } from "./hub.ts";
import { foldKey } from "../wire/names.ts";
import { skeletonKey } from "./names/lookalikes.ts";
import type { Session } from "./session.ts";
import {
  RedisTimeout,
  STORE_SILENT,
  tellIfNotUndone,
  UNDO_LOST,
} from "./cluster/redis_timeout.ts";

/** Gives a logging-in session its nickname; a mute on that name applies. */
export function claimNick(hub: Hub, session: Session, nick: string): void {
  hub.nicks.add(nick, session);
  session.setNick(nick, hub.now());
  session.muted = hub.mutedNicks.has(foldKey(nick));
}

/**
 * Renames a logged-in session and tells its rooms (each member once). The one rename path, so
 * what belongs to a person moves with them: a mute follows the session to
 * its new name, and a mute already on the new name applies to it (so
 * nobody escapes a mute by changing names); the operator role stays with the
 * session.
 */
export function renameSession(
  hub: Hub,
  session: Session,
  nick: string,
  own?: OwnCopy,
): void {
  const old = session.nick;
  if (old === null) return;
  hub.nicks.delete(old, session);
  hub.nicks.add(nick, session);
  session.setNick(nick, hub.now());
  if (session.muted) {
    hub.mutedNicks.delete(foldKey(old));
    hub.mutedNicks.add(foldKey(nick));
  } else {
    session.muted = hub.mutedNicks.has(foldKey(nick));
  }
  const ts = hub.now();
  hub.broadcastAcross([...session.rooms], (room) => ({
    type: "nick",
    ts,
    room: room.name,
    old,
    nick,
  }), own);
  hub.presence?.changed(session, { type: "nick", old, ts });
}

/** Frees a departing session's nickname; its mute stays on the name. */
export function releaseNick(hub: Hub, session: Session): void {
  if (session.nick === null) return;
  hub.nicks.delete(session.nick, session);
  hub.cluster?.release(session.nick, session);
}

/**
 * What claiming a nickname across a cluster came to: held now, held by
 * another connection, the cluster out of reach, Redis not answering in
 * time (what it may still do undone), or the session gone (or the name
 * taken here) while the claim was in flight.
 */
export type ClusterClaim =
  | "held"
  | "taken"
  | "unavailable"
  | "silent"
  | "stale";

/**
 * Claims `nick` for `session` in the cluster (when there is one) before the
 * hub's registry takes it: two nodes claiming one name at once, exactly one
 * wins. A claim that turns out useless is let go again.
 */
export async function claimAcrossCluster(
  hub: Hub,
  session: Session,
  nick: string,
  state: Session["state"],
): Promise<ClusterClaim> {
  const cluster = hub.cluster;
  if (cluster === null) return "held";
  let won: boolean;
  try {
    won = await cluster.claim(nick, session);
  } catch (error) {
    const seconds = Math.ceil(hub.limits.nodeTimeoutMs / 1000);
    tellIfNotUndone(
      error,
      `Your claim on the nickname ${nick} may be held after all: ${UNDO_LOST}; ${nick} may show as taken, to you too, until this server reaches Redis again (at most ${seconds} s)`,
      (text) => {
        if (session.state !== "closing") session.send({ type: "notice", text });
      },
    );
    return error instanceof RedisTimeout ? "silent" : "unavailable";
  }
  if (!won) return "taken";
  const holder = hub.nicks.find(nick);
  if (session.state !== state || (holder !== undefined && holder !== session)) {
    cluster.release(nick, session);
    return "stale";
  }
  return "held";
}

/**
 * Disconnects another connection holding `nick`: its owner is back. The
 * displaced side is told who took it and from where, with a code that tells
 * a client not to take it back.
 */
export function takeOver(hub: Hub, session: Session, nick: string): void {
  const holder = hub.nicks.find(nick);
  if (holder !== undefined && holder !== session) {
    hub.disconnect(holder, "quit", "reconnected from elsewhere", {
      code: "taken_over",
      reason:
        `${nick} logged in from ${session.address} with its password and took over this nickname`,
    });
  }
}

/**
 * Renames an active session on a node of a cluster: the new name is claimed
 * across the nodes first, and the old one let go after (unless both are the
 * same name to the cluster, as a change of case is). The refusal, if any,
 * as a reason code and words for the user.
 */
export async function renameInCluster(
  hub: Hub,
  session: Session,
  nick: string,
  own?: OwnCopy,
): Promise<{ code: "nick_taken" | "unavailable"; text: string } | null> {
  const old = session.nick;
  const sameName = old !== null && skeletonKey(old) === skeletonKey(nick);
  if (!sameName) {
    const claim = await claimAcrossCluster(hub, session, nick, "active");
    if (claim === "unavailable" || claim === "silent") {
      return { code: "unavailable", text: claimDown(claim) };
    }
    if (claim !== "held") {
      return { code: "nick_taken", text: `Nickname ${nick} is taken` };
    }
  }
  if (session.state !== "active" || session.nick !== old) {
    if (!sameName) hub.cluster?.release(nick, session);
    return null;
  }
  renameSession(hub, session, nick, own);
  if (!sameName && old !== null) hub.cluster?.release(old, session);
  return null;
}

/** What a user whose nickname claim failed is told. */
export function claimDown(claim: "unavailable" | "silent"): string {
  return claim === "silent" ? STORE_SILENT : CLUSTER_DOWN;
}

/** What a node tells a user when it cannot reach the rest of the cluster. */
export const CLUSTER_DOWN =
  "The chat is degraded: this server cannot reach the others right now; try again in a moment";
