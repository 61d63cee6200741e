/**
 * The line the web client shows for a `/who` the user typed: the page's
 * members, or, for a page past the last member, what the terminal shows.
 *
 * @module
 */

import type { ServerEvent } from "../../protocol.ts";
import { whoPastEnd } from "../../wire/text_codec.ts";

/** The notice for one page of a typed `/who`. */
export function whoNotice(event: ServerEvent & { type: "who" }): string {
  if (event.members.length === 0 && event.count !== undefined) {
    return whoPastEnd(event.room, event.count);
  }
  return `${event.room}: ${
    event.members.map((member) =>
      `${member.nick}${member.away !== undefined ? " (away)" : ""}`
    ).join(", ")
  }`;
}
