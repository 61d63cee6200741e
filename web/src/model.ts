/**
 * What the web client knows, kept apart from the page: conversations (rooms
 * and private ones) with their lines in message-id order, members, topics,
 * unread counts, and the paging cursors for older history and for resuming
 * after a reconnect. Pure: the page renders it, the tests drive it.
 *
 * @module
 */

import type {
  ClientRequest,
  ErrorEvent,
  MemberSummary,
  PrivateMessage,
  RoomMessage,
  RoomSummary,
} from "../../wire/events.ts";
import { type LastWhoPage, whoMoreRequest } from "../../wire/who_more.ts";
import { foldKey } from "../../wire/names.ts";

/** One line shown in a conversation. */
export interface ChatLine {
  /** The server's message id; absent for notices, which are not stored. */
  id?: number;
  /** When it was sent (ms since the epoch), shown as its time. */
  ts: number;
  /**
   * How it is drawn: someone's message or action, or the server's notice or
   * error.
   */
  kind: "message" | "action" | "notice" | "error";
  /** Who said it; absent for notices and errors. */
  from?: string;
  /** The words shown. */
  text: string;
}

/** A room or a private conversation. */
export interface Conversation {
  /** `#room`, or `@nick` for a private conversation. */
  key: string;
  /** A room, or a private conversation with one person. */
  kind: "room" | "private";
  /** The room name, or the other person's nickname. */
  name: string;
  /** What it shows, oldest first. */
  lines: ChatLine[];
  /** Message ids held, so nothing shows twice. */
  ids: Set<number>;
  /** Lines that came while it was not on screen, for its badge. */
  unread: number;
  /** The room's topic ("" for none, and for a private conversation). */
  topic: string;
  /** Members by nickname with their away reason (null when present). */
  members: Map<string, string | null>;
  /**
   * The room's member count when the list held is not all of it: a big
   * room's count, or that of a `who` page that was not the whole list.
   */
  memberCount: number | null;
  /**
   * The room was big when last heard of (its `members` count came): it
   * announces no arrivals or departures, so its count and list are as of
   * then. A join or a part it announces again says it is back under the
   * big-room size, and the list is fetched again.
   */
  quiet: boolean;
  /**
   * Where the member list goes on, one page at a time as the person asks:
   * the nickname the last page ended at, "" to start from the top (a big
   * room's count came without names), null when every member is listed.
   */
  membersNext: string | null;
  /** No older messages are left to load. */
  historyDone: boolean;
  /** A request for older messages is under way. */
  loadingOlder: boolean;
}

/** How many older messages one scroll-up asks for. */
export const OLDER_PAGE = 50;

/** How many messages one gap-filling request asks for (the server's cap). */
export const GAP_PAGE = 200;

/** Most notices kept per conversation; messages are kept without bound. */
const MAX_NOTICES = 500;

/** The key of a room's or a person's conversation. */
export function conversationKey(
  kind: "room" | "private",
  name: string,
): string {
  return kind === "room" ? name.toLowerCase() : `@${name.toLowerCase()}`;
}

/** How a private message's `ref` starts; the rest names its conversation. */
const PRIVATE_REF = "to:";

/**
 * The `ref` a private message to `name` carries, so a refusal (the name
 * has a new holder) is shown in that conversation, not whichever is open.
 */
export function privateRef(name: string): string {
  return `${PRIVATE_REF}${name}`;
}

/** The conversation an error's `ref` belongs to, if it names one. */
export function conversationOfRef(ref: unknown): string | null {
  return typeof ref === "string" && ref.startsWith(PRIVATE_REF)
    ? conversationKey("private", ref.slice(PRIVATE_REF.length))
    : null;
}

/** The whole client state. */
export class ChatModel {
  /** Our nickname once welcomed. */
  me: string | null = null;
  /** Every conversation, by key. */
  readonly conversations: Map<string, Conversation> = new Map();
  /** Our current room on the server (where a bare line would go). */
  currentRoom: string | null = null;
  /** The rooms we are in, by key. */
  readonly joined: Set<string> = new Set();
  /** The conversation on screen. */
  active: string | null = null;
  /** The rooms the server listed, with member counts. */
  rooms: RoomSummary[] = [];
  /** Highest message id seen in any conversation: where a resume starts. */
  lastSeenId = 0;
  /** The room of the last `/who` page the person asked for. */
  lastWhoRoom: string | null = null;
  /** `who` requests sent on this connection and not answered yet. */
  #whoAwaited = 0;

  /** The conversation for `key`, made on first use. */
  conversation(kind: "room" | "private", name: string): Conversation {
    const key = conversationKey(kind, name);
    let conversation = this.conversations.get(key);
    if (conversation === undefined) {
      conversation = {
        key,
        kind,
        name,
        lines: [],
        ids: new Set(),
        unread: 0,
        topic: "",
        members: new Map(),
        memberCount: null,
        quiet: false,
        membersNext: null,
        historyDone: false,
        loadingOlder: false,
      };
      this.conversations.set(key, conversation);
    }
    return conversation;
  }

  /** Shows `key`, clearing its unread count. */
  activate(key: string): void {
    this.active = key;
    const conversation = this.conversations.get(key);
    if (conversation !== undefined) conversation.unread = 0;
  }

  /** A live room message or action; false if already held. */
  roomMessage(message: RoomMessage): boolean {
    const conversation = this.conversation("room", message.room);
    return this.#addLive(conversation, lineOf(message));
  }

  /** A live private message; false if already held. */
  privateMessage(message: PrivateMessage): boolean {
    const other = message.from === this.me ? message.to : message.from;
    const conversation = this.conversation("private", other);
    return this.#addLive(conversation, lineOf(message));
  }

  /** A notice or error in a conversation (the active one by default). */
  notice(
    text: string,
    kind: "notice" | "error" = "notice",
    key?: string,
  ): void {
    const target = key ?? this.active ?? this.currentRoom;
    if (target === null) return;
    const conversation = this.conversations.get(target);
    if (conversation === undefined) return;
    conversation.lines.push({ ts: Date.now(), kind, text });
    const notices = conversation.lines.filter((line) => line.id === undefined);
    if (notices.length > MAX_NOTICES) {
      const drop = notices[0]!;
      conversation.lines.splice(conversation.lines.indexOf(drop), 1);
    }
  }

  /**
   * Older or replayed messages: merged by id, skipping those held. Returns
   * how many were new.
   */
  mergeHistory(
    conversation: Conversation,
    messages: Array<RoomMessage | PrivateMessage>,
  ): number {
    let added = 0;
    for (const message of messages) {
      if (conversation.ids.has(message.id)) continue;
      conversation.ids.add(message.id);
      insertById(conversation.lines, lineOf(message));
      this.lastSeenId = Math.max(this.lastSeenId, message.id);
      added++;
    }
    return added;
  }

  /** The oldest message id a conversation holds, or null. */
  oldestId(conversation: Conversation): number | null {
    for (const line of conversation.lines) {
      if (line.id !== undefined) return line.id;
    }
    return null;
  }

  /** The newest message id a conversation holds, or 0. */
  newestId(conversation: Conversation): number {
    for (let i = conversation.lines.length - 1; i >= 0; i--) {
      const id = conversation.lines[i]!.id;
      if (id !== undefined) return id;
    }
    return 0;
  }

  /**
   * Someone left for good (quit, lost, kicked...), told once in `room`:
   * out of every room we share with them, as the protocol asks, and out of
   * the counts of `room` and of the rooms whose list held them (of another
   * room held in part, nothing says whether they were in it). Returns the
   * request that fetches `room`'s list again when this news shows a room
   * that was big is back under the size ({@linkcode ChatModel.memberChange}).
   */
  leftEverywhere(
    nick: string,
    room: string,
    reason: string,
  ): ClientRequest | null {
    const named = this.conversation("room", room);
    for (const conversation of this.conversations.values()) {
      if (conversation.kind !== "room") continue;
      const held = conversation.members.delete(nick);
      if (held || conversation === named) uncount(conversation);
    }
    // A big room announces kicks and bans as ever: those say nothing of
    // its size.
    const moderated = reason === "kicked" || reason === "banned";
    return moderated ? null : this.#announcing(named, nick);
  }

  /**
   * A `who` page, asked for after the nickname `after` (undefined: from the
   * top). The list held is always the room's members from the top, in one
   * piece: a page from the top replaces it, and a page that goes on from
   * where it ends is added to it. A page from anywhere else (a typed
   * `/who #room after NICK` past the list's end, or one that answers a
   * request the list has since moved past) would leave a gap, or show
   * names twice over: it is not added, and false says so. Its `count` and
   * `next` say how many there are and where the list goes on; the next page
   * comes only when asked for ({@linkcode moreMembersRequest}), so a room of
   * ten thousand is never fetched whole.
   */
  members(
    room: string,
    page: { members: MemberSummary[]; count?: number; next?: string },
    after?: string,
  ): boolean {
    const conversation = this.conversation("room", room);
    if (after === undefined) {
      conversation.members.clear();
    } else {
      const end = conversation.membersNext;
      if (end === null || end === "" || foldKey(end) !== foldKey(after)) {
        return false;
      }
    }
    for (const member of page.members) {
      conversation.members.set(member.nick, member.away ?? null);
    }
    conversation.memberCount = page.count ?? null;
    conversation.membersNext = page.next ?? null;
    return true;
  }

  /**
   * A big room's member count, sent in place of its list: names held from
   * before would go stale (a big room announces no joins), so the list
   * starts again from the top when asked for.
   */
  memberTotal(room: string, count: number): void {
    const conversation = this.conversation("room", room);
    conversation.members.clear();
    conversation.memberCount = count;
    conversation.quiet = true;
    conversation.membersNext = "";
  }

  /**
   * The server's room list: its counts are also the latest of the big
   * rooms we are in, whose joins and leaves are not announced.
   */
  listRooms(rooms: RoomSummary[]): void {
    this.rooms = rooms;
    for (const room of rooms) {
      if (this.joined.has(conversationKey("room", room.name))) {
        this.roomCount(room.name, room.members);
      }
    }
  }

  /**
   * A big room's size now (`count`, sent while it changes): the count moves,
   * the names held stay, as a list held in part. A room not known to be big
   * any more (a join it announced came since) keeps the count it follows.
   */
  roomCount(room: string, count: number): void {
    const conversation = this.conversation("room", room);
    if (conversation.quiet) conversation.memberCount = count;
  }

  /**
   * The member list a join brings unasked: a big room sends its count
   * instead, so the room is not big now.
   */
  joinList(
    room: string,
    page: { members: MemberSummary[]; count?: number; next?: string },
  ): void {
    this.members(room, page);
    this.conversation("room", room).quiet = false;
  }

  /**
   * What `/who more` goes on from: the room of the last `/who` asked for
   * and where its list stands, or null when none was asked for.
   */
  lastWho(): LastWhoPage | null {
    const room = this.lastWhoRoom;
    if (room === null) return null;
    const next = this.conversation("room", room).membersNext;
    return next === null ? { room } : { room, next };
  }

  /**
   * A `who` request went out: a `/who more` typed before its answer waits
   * for it ({@linkcode ChatModel.whoMore}).
   */
  whoAsked(): void {
    this.#whoAwaited++;
  }

  /** A `who` request was answered: its page, or the error refusing it. */
  whoAnswered(): void {
    this.#whoAwaited = Math.max(0, this.#whoAwaited - 1);
  }

  /** A new connection: nothing asked on the one before will be answered. */
  whoReconnected(): void {
    this.#whoAwaited = 0;
  }

  /**
   * What a typed `/who more` asks for when its turn comes: the page after
   * the last one (with its ref), or the error saying there is none; null
   * while a `who` asked before it is unanswered, as it goes on from that
   * page (decided as typed, twice before the page came, it would ask for
   * the same page twice).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ChatModel } from "./model.ts";
   * const model = new ChatModel();
   * model.whoAsked();
   * assert.equal(model.whoMore(), null, "its page has not come");
   * ```
   */
  whoMore(): (ClientRequest & { type: "who" }) | ErrorEvent | null {
    if (this.#whoAwaited > 0) return null;
    const last = this.lastWho();
    if (last?.next === "") {
      // The list starts again from the top (the room became big, or was
      // joined again): so does the page after it. "" is no cursor.
      return { type: "who", room: last.room, ref: TYPED_WHO_REF };
    }
    const more = whoMoreRequest(last);
    return more.type === "error" ? more : { ...more, ref: typedRef(more) };
  }

  /**
   * Someone joined, left, was renamed, went away or came back. Of a list
   * held only in part (a big room's first pages), only names within what it
   * holds are added or marked: a name past its end shows when its page is
   * asked for, and added now it would stand alone beyond a gap; a count
   * held counts joins and parts.
   *
   * Returns the request that fetches the list again, from the top, when
   * this news shows a room that was big is back under the size: a big room
   * announces no joins or parts, so its count and list stopped when it
   * became big, and whoever came and went since is known only to the
   * server. Null otherwise.
   */
  memberChange(
    room: string,
    change:
      | { kind: "join"; nick: string }
      | { kind: "leave"; nick: string }
      | { kind: "nick"; old: string; nick: string }
      | { kind: "away"; nick: string; reason: string }
      | { kind: "back"; nick: string },
  ): ClientRequest | null {
    const conversation = this.conversation("room", room);
    const members = conversation.members;
    const end = conversation.membersNext;
    const held = (nick: string) =>
      end === null || (end !== "" && foldKey(nick) <= foldKey(end));
    switch (change.kind) {
      case "join":
        if (!members.has(change.nick) && conversation.memberCount !== null) {
          conversation.memberCount++;
        }
        if (held(change.nick)) members.set(change.nick, null);
        return this.#announcing(conversation, change.nick);
      case "leave":
        members.delete(change.nick);
        uncount(conversation);
        return this.#announcing(conversation, change.nick);
      case "nick": {
        const away = members.get(change.old) ?? null;
        members.delete(change.old);
        if (held(change.nick)) members.set(change.nick, away);
        break;
      }
      case "away":
        if (held(change.nick)) members.set(change.nick, change.reason);
        break;
      case "back":
        if (held(change.nick)) members.set(change.nick, null);
        break;
    }
    return null;
  }

  /**
   * `nick`'s arrival or departure was announced in `conversation`: if the
   * room was big (quiet), it is back under the size, and its list is
   * fetched again. One's own join or part is told even in a big room.
   */
  #announcing(
    conversation: Conversation,
    nick: string,
  ): ClientRequest | null {
    if (!conversation.quiet || nick === this.me) return null;
    conversation.quiet = false;
    return { type: "who", room: conversation.name, ref: MEMBERS_MORE_REF };
  }

  #addLive(conversation: Conversation, line: ChatLine): boolean {
    if (line.id !== undefined) {
      if (conversation.ids.has(line.id)) return false;
      conversation.ids.add(line.id);
      this.lastSeenId = Math.max(this.lastSeenId, line.id);
    }
    insertById(conversation.lines, line);
    if (conversation.key !== this.active && line.from !== this.me) {
      conversation.unread++;
    }
    return true;
  }
}

/** One member fewer in a count held (a room's list held in part). */
function uncount(conversation: Conversation): void {
  if (conversation.memberCount !== null) {
    conversation.memberCount = Math.max(0, conversation.memberCount - 1);
  }
}

/**
 * The request for a room's next page of members, or null when every member
 * is listed. Its ref says where the page goes on from
 * ({@linkcode whoPageRole}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ChatModel, moreMembersRequest } from "./model.ts";
 * const model = new ChatModel();
 * model.members("#big", { members: [{ nick: "ann" }], count: 9, next: "ann" });
 * assert.deepEqual(moreMembersRequest(model.conversation("room", "#big")), {
 *   type: "who",
 *   room: "#big",
 *   after: "ann",
 *   ref: "members-more:ann",
 * });
 * ```
 */
export function moreMembersRequest(
  conversation: Conversation,
): ClientRequest | null {
  const after = conversation.membersNext;
  if (conversation.kind !== "room" || after === null) return null;
  return after === ""
    ? { type: "who", room: conversation.name, ref: MEMBERS_MORE_REF }
    : {
      type: "who",
      room: conversation.name,
      after,
      ref: `${MEMBERS_MORE_REF}:${after}`,
    };
}

/** The `ref` of a line the person typed. */
export const TYPED_REF = "typed";

/**
 * The `ref` of a typed `/who` without a cursor: its page is shown as a
 * notice, and starts the room's member list.
 */
export const TYPED_WHO_REF = "typed-who";

/**
 * How the `ref` of a typed `/who` with a cursor (`/who more`,
 * `/who #room after NICK`) starts; the cursor follows it. Its page is shown
 * as a notice, and added to the room's member list when it goes on from
 * where the list ends.
 */
export const WHO_MORE_REF = "who-more:";

/**
 * The `ref` of the "More members" button's page (the list only): alone for
 * the list from the top, else followed by `:` and the cursor.
 */
export const MEMBERS_MORE_REF = "members-more";

/**
 * The `ref` a typed request carries: for a `/who`, {@linkcode WHO_MORE_REF}
 * and its cursor, or {@linkcode TYPED_WHO_REF} without one; else
 * {@linkcode TYPED_REF}.
 */
export function typedRef(request: ClientRequest): string {
  if (request.type !== "who") return TYPED_REF;
  return request.after !== undefined
    ? `${WHO_MORE_REF}${request.after}`
    : TYPED_WHO_REF;
}

/**
 * Whether an answer with `ref` (a `who` page, or an error) answers one of
 * the `who` requests the page sends, all of which carry one of these refs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { answersWho } from "./model.ts";
 * assert.equal(answersWho("who-more:cy"), true);
 * assert.equal(answersWho("typed"), false);
 * ```
 */
export function answersWho(ref: unknown): boolean {
  return typeof ref === "string" &&
    (ref === TYPED_WHO_REF || ref.startsWith(WHO_MORE_REF) ||
      ref === MEMBERS_MORE_REF || ref.startsWith(`${MEMBERS_MORE_REF}:`));
}

/**
 * What a `who` page is, by its `ref`: typed by the person (shown as a
 * notice), and the cursor it was asked from (`after`), absent when it
 * starts the member list (a join's list, a typed `/who`, the list from the
 * top) rather than going on from a page.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { whoPageRole } from "./model.ts";
 * assert.deepEqual(whoPageRole("who-more:cy"), { typed: true, after: "cy" });
 * assert.deepEqual(whoPageRole("members-more:cy"), { typed: false, after: "cy" });
 * assert.deepEqual(whoPageRole(undefined), { typed: false });
 * ```
 */
export function whoPageRole(
  ref: unknown,
): { typed: boolean; after?: string } {
  if (typeof ref !== "string") return { typed: false };
  if (ref.startsWith(WHO_MORE_REF)) {
    return { typed: true, after: ref.slice(WHO_MORE_REF.length) };
  }
  if (ref.startsWith(`${MEMBERS_MORE_REF}:`)) {
    return { typed: false, after: ref.slice(MEMBERS_MORE_REF.length + 1) };
  }
  return { typed: ref === TYPED_WHO_REF };
}

/** The line a stored message shows as. */
export function lineOf(message: RoomMessage | PrivateMessage): ChatLine {
  return {
    id: message.id,
    ts: message.ts,
    kind: message.type === "action" ? "action" : "message",
    from: message.from,
    text: message.text,
  };
}

/**
 * Inserts a line in id order: before the first held line with a larger id
 * (at the very top when that is the oldest message, so loaded history goes
 * above everything), else at the end. A line without an id (a notice) goes
 * at the end.
 */
export function insertById(lines: ChatLine[], line: ChatLine): void {
  const id = line.id;
  if (id === undefined) {
    lines.push(line);
    return;
  }
  for (let at = lines.length - 1; at >= 0; at--) {
    const held = lines[at]!.id;
    if (held === undefined) continue;
    if (held < id) {
      // The usual case, a live message newer than all held: at the end.
      lines.push(line);
      return;
    }
    break;
  }
  let seenId = false;
  for (let at = 0; at < lines.length; at++) {
    const held = lines[at]!.id;
    if (held === undefined) continue;
    if (held > id) {
      lines.splice(seenId ? at : 0, 0, line);
      return;
    }
    seenId = true;
  }
  lines.push(line);
}

/**
 * A nickname's color, one of `count`, stable across sessions and clients:
 * a small string hash.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nickColor } from "./model.ts";
 * assert.equal(nickColor("alice", 8), nickColor("alice", 8));
 * ```
 */
export function nickColor(nick: string, count: number): number {
  let hash = 0;
  for (const char of nick.toLowerCase()) {
    hash = (hash * 31 + char.codePointAt(0)!) >>> 0;
  }
  return hash % count;
}
