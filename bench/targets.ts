/**
 * The three servers the benchmark drives with the same load generator: how
 * to find, start and stop each, and its protocol adapter.
 *
 * - tern: ours, started from this checkout with every flood and connection
 *   limit its `--help` lists turned off or raised.
 * - ncat --chat: relays raw read chunks with a `<userN> ` prefix; no
 *   nicknames, no rooms. The floor of what relaying bytes costs.
 * - ngIRCd: a mature C IRC server, configured from bench/ngircd.conf with
 *   its limits lifted as far as its configuration allows.
 *
 * @module
 */

import {
  findExecutable,
  freePort,
  makeTempDir,
  type ServerProcess,
  startProcess,
} from "./process.ts";
import {
  type ControlAction,
  type LoginOptions,
  type LoginPlan,
  type Protocol,
  startsWithBytes,
} from "./protocol.ts";

/** Names accepted by `--targets`. */
export const TARGET_NAMES = ["tern", "ncat", "ngircd"] as const;

/** One of {@linkcode TARGET_NAMES}. */
export type TargetName = typeof TARGET_NAMES[number];

/** What a scenario needs from the server it starts. */
export interface ServerNeeds {
  /** Clients the scenario will connect. */
  clients: number;
  /**
   * Keep the server's default per-client send queue, so a reader that stops
   * reading is cut off (scenario d); otherwise it is raised for throughput.
   */
  defaultSendQueue: boolean;
  /** Run as one node of a cluster through the Redis at this URL (tern only). */
  redisUrl?: string;
  /**
   * Leave the web listener off: its default port is fixed, so a second
   * server on the machine would collide on it. Every run but a WebSocket one
   * does so already; this says it where it matters.
   */
  noWeb?: boolean;
  /**
   * Clients connect over WebSocket (tern only): the web listener runs on a
   * free port, and that port is the one returned.
   */
  webSocket?: boolean;
}

/** A started server. */
export interface RunningServer {
  process: ServerProcess;
  port: number;
  /** Flags or settings used, for the results file. */
  settings: string[];
  /** Notes on limits that could not be lifted. */
  notes: string[];
  /** Stops the server and removes anything it needed on disk. */
  stop(): Promise<void>;
}

/** A server under test. */
export interface Target {
  readonly name: TargetName;
  readonly protocol: Protocol;
  /** Null when it can run here; otherwise how to install it. */
  missing(): string | null;
  /** Most clients it can hold at once, when it has a hard limit. */
  maxClients: number;
  /** Why `maxClients` is what it is. */
  maxClientsReason: string;
  /**
   * Most connections it can take being set up at once, when fewer than a
   * scenario asks for (its listen backlog overflows otherwise).
   */
  maxConcurrency?: number;
  /** Starts a fresh server on a free loopback port. */
  start(needs: ServerNeeds): Promise<RunningServer>;
}

/** Time a server gets to print that it is listening. */
const START_TIMEOUT_MS = 15_000;

const decoder = new TextDecoder();
const bytes = (text: string) => new TextEncoder().encode(text);

// ---------------------------------------------------------------------------
// tern

const TERN_DISCONNECTED = bytes("*** Disconnected");
const TERN_BYE = bytes('{"type":"bye"');

/** tern in text mode (and JSON mode for idle clients in their own room). */
const ternProtocol: Protocol = {
  name: "tern",
  login(nick: string, options: LoginOptions): LoginPlan {
    if (options.room === null) {
      return { send: `${nick}\n`, expect: [`*** Welcome, ${nick}!`] };
    }
    // A room of one's own needs the JSON hello's `room`; text mode would
    // first join #lobby and tell everyone there.
    return {
      send: `${JSON.stringify({ type: "hello", nick, room: options.room })}\n`,
      expect: ['{"type":"welcome"'],
    };
  },
  frame(payload: string): string {
    return `${payload}\n`;
  },
  control(line: Uint8Array): ControlAction | null {
    if (
      startsWithBytes(line, 0, line.length, TERN_DISCONNECTED) ||
      startsWithBytes(line, 0, line.length, TERN_BYE)
    ) {
      return { closing: decoder.decode(line).trim() };
    }
    return null;
  },
  lineRules: {
    replies: [],
    closing: [decoder.decode(TERN_DISCONNECTED), decoder.decode(TERN_BYE)],
  },
};

/** Where tern keeps its history database during a run. */
export type TernDb = "file" | "memory";

/**
 * Server flags that turn a limit off or raise it for benchmarking, for those
 * the server's `--help` lists (the server is changing; a flag it does not
 * have yet is noted, not passed).
 */
function ternFlags(
  help: Set<string>,
  needs: ServerNeeds,
  dbPath: string,
): { flags: string[]; notes: string[] } {
  const many = String(Math.max(20000, needs.clients + 100));
  const wanted: Array<[string, string]> = [
    ["flood-rate", "0"],
    ["max-connections", many],
    ["max-per-address", "0"],
    ["connect-rate", "0"],
    ["login-timeout", "600"],
    ["max-rooms", many],
    ["max-room-members", many],
    // Idle JSON-mode clients (scenario c) would be pinged after 90 s.
    ["ping-interval", "3600"],
    ["log-level", "error"],
    ["db", dbPath],
  ];
  if (!needs.defaultSendQueue) wanted.push(["max-send-queue", "8388608"]);
  const flags: string[] = [];
  const notes: string[] = [];
  // The web listener's default port is fixed: a second server on the
  // machine (another benchmark, a developer's) would stop this one starting.
  // A WebSocket run takes a free port instead.
  if (help.has("no-http") && !needs.webSocket) flags.push("--no-http");
  for (const [flag, value] of wanted) {
    if (help.has(flag)) flags.push(`--${flag}`, value);
    else notes.push(`--${flag} not in --help; left at its default`);
  }
  if (needs.webSocket) flags.push("--http-port", "0");
  if (needs.redisUrl !== undefined) flags.push("--redis", needs.redisUrl);
  return { flags, notes };
}

let ternHelp: Promise<Set<string>> | null = null;

/** The flags `server.ts --help` lists (asked once per benchmark run). */
function ternHelpFlags(serverPath: string): Promise<Set<string>> {
  ternHelp ??= (async () => {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", serverPath, "--help"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = decoder.decode(output.stdout) + decoder.decode(output.stderr);
    if (!output.success) {
      throw new Error(`${serverPath} --help failed:\n${text.trim()}`);
    }
    return new Set(
      [...text.matchAll(/--([a-z][a-z0-9-]*)/g)].map((m) => m[1]!),
    );
  })();
  return ternHelp;
}

/**
 * How long a profiled tern server gets to exit after SIGTERM. V8 writes the
 * profile only as the process exits, after the server's own shutdown (up to
 * --close-grace, 2 s, for its goodbyes): the usual 2 s grace killed it first
 * and no profile was written. Serializing a minute's profile takes seconds.
 */
const PROFILE_STOP_GRACE_MS = 60_000;

/**
 * The tern target, running `serverPath` with this Deno. Its history
 * database is a fresh file in a temporary directory per run (what a real
 * deployment pays: SQLite, WAL, one commit per event-loop turn), or
 * SQLite's `:memory:` with `db` = "memory".
 */
export function ternTarget(
  serverPath: string,
  db: TernDb,
  profileDir: string | null = null,
): Target {
  return {
    name: "tern",
    protocol: ternProtocol,
    maxClients: Infinity,
    maxClientsReason: "",
    missing() {
      try {
        Deno.statSync(serverPath);
        return null;
      } catch {
        return `tern server not found at ${serverPath} (use --tern-server)`;
      }
    },
    async start(needs: ServerNeeds): Promise<RunningServer> {
      const help = await ternHelpFlags(serverPath);
      if (needs.redisUrl !== undefined && !help.has("redis")) {
        // A cluster run without its Redis would measure something else.
        throw new Error(`${serverPath} has no --redis flag`);
      }
      const temp = db === "file" && help.has("db")
        ? await makeTempDir("tern-bench-db-")
        : null;
      const dir = temp?.path ?? null;
      const removeDir = () => temp?.remove() ?? Promise.resolve();
      const { flags, notes } = ternFlags(
        help,
        needs,
        dir === null ? ":memory:" : `${dir}/chat.db`,
      );
      // With a profile directory, V8 writes a CPU profile there when the
      // server exits (bench/cpuprofile.ts summarizes it).
      const profile = profileDir === null
        ? []
        : ["--cpu-prof", `--cpu-prof-dir=${profileDir}`];
      const process = startProcess("tern", Deno.execPath(), [
        "run",
        "-A",
        ...profile,
        serverPath,
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        ...flags,
      ]);
      try {
        const match = await process.waitForLine(
          needs.webSocket
            ? /Web client: open https?:\/\/\S+:(\d+)\//
            : /listening on \S*?:(\d+)/,
          START_TIMEOUT_MS,
        );
        return {
          process,
          port: Number(match[1]),
          settings: flags.map((flag) =>
            dir !== null && flag.startsWith(dir) ? "<temp dir>/chat.db" : flag
          ),
          notes,
          stop: async () => {
            await process.stop(
              profileDir === null ? undefined : PROFILE_STOP_GRACE_MS,
            );
            await removeDir();
          },
        };
      } catch (error) {
        await process.stop();
        await removeDir();
        throw error;
      }
    },
  };
}

// ---------------------------------------------------------------------------
// ncat --chat

/**
 * ncat's chat mode keeps its sockets in select(2) fd_sets: at descriptor 1024
 * it exits ("Attempt to FD_SET fd ..., which is not less than FD_SETSIZE").
 * Stdio, the listener and a few descriptors of its own (or inherited) come
 * first; 1,018 clients was the most seen here, so stay a little below.
 */
const NCAT_MAX_CLIENTS = 1000;

const NCAT_ANNOUNCE = "<announce>";

/** ncat --chat: no login; a client is in once ncat has announced anyone. */
const ncatProtocol: Protocol = {
  name: "ncat",
  login(): LoginPlan {
    // ncat tells everyone, the newcomer included, "<announce> ... is
    // connected as <userN>." once it has accepted a socket; only then does
    // the socket receive what others send.
    return { send: "", expect: [NCAT_ANNOUNCE] };
  },
  frame(payload: string): string {
    return `${payload}\n`;
  },
  control(): ControlAction | null {
    return null;
  },
  lineRules: { replies: [], closing: [] },
};

/** The ncat --chat target. */
export function ncatTarget(): Target {
  return {
    name: "ncat",
    protocol: ncatProtocol,
    maxClients: NCAT_MAX_CLIENTS,
    maxClientsReason:
      "ncat --chat uses select(2) and exits when a descriptor reaches 1024",
    // Its listen backlog is 10: more connects in flight overflow it, and a
    // client that gives up mid-announcement makes it exit.
    maxConcurrency: 8,
    missing() {
      return findExecutable("ncat") === null
        ? "ncat is not installed (apt-get install ncat)"
        : null;
    },
    async start(needs: ServerNeeds): Promise<RunningServer> {
      const port = freePort();
      const settings = [
        "--chat",
        "-v",
        "-l",
        "127.0.0.1",
        String(port),
        "-m",
        String(Math.max(100, needs.clients + 10)),
      ];
      const process = startProcess("ncat", findExecutable("ncat")!, settings);
      try {
        await process.waitForLine(/Listening on/, START_TIMEOUT_MS);
      } catch (error) {
        await process.stop();
        throw error;
      }
      return {
        process,
        port,
        settings,
        notes: [
          "no per-client send queue: ncat writes to each reader with a " +
          "blocking send, so one reader that stops reading stalls everyone",
        ],
        stop: () => process.stop(),
      };
    },
  };
}

// ---------------------------------------------------------------------------
// ngIRCd

const IRC_PING = bytes("PING");
const IRC_ERROR = bytes("ERROR");
const IRC_CHANNEL = "#bench";
const OPER_NAME = "bench";

/** ngIRCd: RFC 2812 registration, one channel, PRIVMSG. */
function ngircdProtocol(operPassword: string): Protocol {
  return {
    name: "ngircd",
    login(nick: string, options: LoginOptions): LoginPlan {
      const channel = options.room ?? IRC_CHANNEL;
      let send = `NICK ${nick}\r\nUSER ${nick} 0 * :${nick}\r\n`;
      const expect = [` 001 ${nick} `];
      if (options.privileged) {
        send += `OPER ${OPER_NAME} ${operPassword}\r\nMODE ${nick} +F\r\n`;
        expect.push(` 381 ${nick} `, ` MODE ${nick} :+F`);
      }
      send += `JOIN ${channel}\r\n`;
      expect.push(` 366 ${nick} ${channel} `);
      return { send, expect };
    },
    frame(payload: string): string {
      return `PRIVMSG ${IRC_CHANNEL} :${payload}\r\n`;
    },
    control(line: Uint8Array): ControlAction | null {
      if (startsWithBytes(line, 0, line.length, IRC_PING)) {
        const text = decoder.decode(line).replace(/\r$/, "");
        return { reply: `PONG${text.slice(4)}\r\n` };
      }
      if (startsWithBytes(line, 0, line.length, IRC_ERROR)) {
        return { closing: decoder.decode(line).trim() };
      }
      return null;
    },
    lineRules: {
      replies: [{ prefix: "PING", answer: "PONG" }],
      closing: ["ERROR"],
    },
  };
}

/** The ngIRCd target, configured from `configTemplate`. */
export function ngircdTarget(configTemplate: string): Target {
  const operPassword = crypto.randomUUID().replaceAll("-", "");
  return {
    name: "ngircd",
    protocol: ngircdProtocol(operPassword),
    maxClients: Infinity,
    maxClientsReason: "",
    missing() {
      if (findExecutable("ngircd") === null) {
        return "ngircd is not installed (apt-get install ngircd)";
      }
      try {
        Deno.statSync(configTemplate);
        return null;
      } catch {
        return `ngircd config template not found at ${configTemplate}`;
      }
    },
    async start(): Promise<RunningServer> {
      const port = freePort();
      const temp = await makeTempDir("tern-bench-ngircd-");
      const dir = temp.path;
      // ngIRCd drops root for "nobody" after reading its config; the
      // directory stays readable so a rehash would work too.
      await Deno.chmod(dir, 0o755);
      const includeDir = `${dir}/conf.d`;
      await Deno.mkdir(includeDir);
      const config = (await Deno.readTextFile(configTemplate))
        .replaceAll("@PORT@", String(port))
        .replaceAll("@OPER_PASSWORD@", operPassword)
        .replaceAll("@INCLUDE_DIR@", includeDir);
      const configPath = `${dir}/ngircd.conf`;
      await Deno.writeTextFile(configPath, config);
      const removeDir = temp.remove;
      const process = startProcess("ngircd", findExecutable("ngircd")!, [
        "-n",
        "-f",
        configPath,
      ]);
      try {
        await process.waitForLine(
          /Server ".*" \(on ".*"\) ready/,
          START_TIMEOUT_MS,
        );
      } catch (error) {
        await process.stop();
        await removeDir();
        throw error;
      }
      return {
        process,
        port,
        settings: ["-n", "-f", "bench/ngircd.conf (port, password filled in)"],
        notes: [
          "hard-coded: 2048-byte receive buffer and 32 KiB send buffer per client",
        ],
        stop: async () => {
          await process.stop();
          await removeDir();
        },
      };
    },
  };
}
