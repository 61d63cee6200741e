/**
 * Who holds which nickname. The nick registry, `session.nick` and the mutes
 * (kept by nickname so they survive a reconnect) change together here and
 * nowhere else: taking a nickname at login, renaming (`/nick`, `/identify`
 * under another name) and letting it go at disconnect.
 *
 * @module
 */

import type { Hub } from "./hub.ts";
import { foldKey } from "../wire/names.ts";
import type { Session } from "./session.ts";

/** Gives a logging-in session its nickname; a mute on that name applies. */
export function claimNick(hub: Hub, session: Session, nick: string): void {
  hub.nicks.add(nick, session);
  session.setNick(nick);
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
): void {
  const old = session.nick;
  if (old === null) return;
  hub.nicks.delete(old, session);
  hub.nicks.add(nick, session);
  session.setNick(nick);
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
  }));
}

/** Frees a departing session's nickname; its mute stays on the name. */
export function releaseNick(hub: Hub, session: Session): void {
  if (session.nick !== null) hub.nicks.delete(session.nick, session);
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
