/**
 * The real programs as users run them, for end-to-end tests: `server.ts`
 * and `client.ts` as subprocesses under the permissions the README gives,
 * the client through a pipe or in a pseudo-terminal.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { LineStream, WAIT_MS, within } from "./helpers.ts";

/** The repository root, where the programs run. */
export const ROOT = fileURLToPath(new URL("..", import.meta.url));
const encoder = new TextEncoder();

/**
 * The permission flags of a deno.json task, so the programs run here with
 * exactly what the README's commands grant them.
 */
function taskPermissions(task: string): string[] {
  const config = JSON.parse(Deno.readTextFileSync(`${ROOT}/deno.json`));
  return String(config.tasks[task]).split(/\s+/)
    .filter((word) => word.startsWith("--allow-"));
}
/** What each program is granted: the deno.json task's flags. */
export const PERMISSIONS: Record<string, string[]> = {
  "server.ts": taskPermissions("start"),
  "client.ts": taskPermissions("client"),
};

/** A child process with its output read line by line. */
export class Program implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  readonly stdout: LineStream;
  readonly stderr: LineStream;
  #stdin: WritableStreamDefaultWriter<Uint8Array> | null;

  /**
   * @param command a Deno script with its arguments (run with the README's
   *   permissions), or a whole command line as an array
   */
  constructor(
    command: string | string[],
    args: string[],
    stdin: boolean,
    env: Record<string, string> = {},
  ) {
    // A server under test never writes the user's data directory.
    const database = command === "server.ts" && !args.includes("--db")
      ? ["--db", ":memory:"]
      : [];
    // Nor takes the web client's fixed port, which parallel runs would share.
    if (
      command === "server.ts" && !args.includes("--http-port") &&
      !args.includes("--help")
    ) {
      database.push("--no-http");
      if (args.includes("--tls-cert") && !args.includes("--https-port")) {
        database.push("--no-https");
      }
    }
    const [program, ...programArgs] = typeof command === "string"
      ? [
        Deno.execPath(),
        "run",
        ...PERMISSIONS[command]!,
        command,
        ...args,
        ...database,
      ]
      : command;
    this.child = new Deno.Command(program!, {
      args: programArgs,
      cwd: ROOT,
      stdin: stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", ...env },
    }).spawn();
    this.stdout = new LineStream(this.child.stdout);
    this.stderr = new LineStream(this.child.stderr);
    this.#stdin = stdin ? this.child.stdin.getWriter() : null;
  }

  /** Types a line into the program's stdin. */
  async type(line: string): Promise<void> {
    await this.write(encoder.encode(line + "\n"));
  }

  /** Writes raw bytes to the program's stdin. */
  async write(bytes: Uint8Array): Promise<void> {
    await this.#stdin!.write(bytes);
  }

  /** Ends the program's stdin, as a pipe closing. */
  async endInput(): Promise<void> {
    const writer = this.#stdin;
    this.#stdin = null;
    await writer?.close();
  }

  /** Waits for exit; returns the exit code. */
  async exit(ms = WAIT_MS): Promise<number> {
    const status = await within(this.child.status, "the program to exit", ms);
    await Promise.all([this.stdout.done, this.stderr.done]);
    return status.code;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await this.endInput().catch(() => {});
    await this.child.status;
    await Promise.all([this.stdout.done, this.stderr.done]);
  }
}

/**
 * The client in a pseudo-terminal, through util-linux `script`, so it runs in
 * raw mode with its line editor as a person would see it.
 */
export class TerminalProgram extends Program {
  /**
   * @param port the server's port
   * @param nick the nickname (`--nick`)
   * @param args more client flags
   * @param env more environment
   */
  constructor(
    port: number,
    nick: string,
    args: string[] = [],
    env: Record<string, string> = {},
  ) {
    const client = [
      Deno.execPath(),
      "run",
      ...PERMISSIONS["client.ts"]!,
      "client.ts",
      "--port",
      String(port),
      "--nick",
      nick,
      ...args,
    ].map((word) => `'${word}'`).join(" ");
    super(["script", "-qfec", client, "/dev/null"], [], true, env);
  }

  /** Sends keystrokes as typed, without adding a newline. */
  async keys(keys: string): Promise<void> {
    await this.write(encoder.encode(keys));
  }
}

/** Starts `server.ts` on a free port; resolves once it prints where. */
export async function startServerProcess(
  args: string[] = ["--port", "0"],
  env: Record<string, string> = {},
): Promise<Program & { port: number }> {
  const server = new Program(
    "server.ts",
    ["--host", "127.0.0.1", ...args],
    false,
    env,
  );
  const line = await server.stdout.expect(/ listening on /, 15_000);
  const port = Number(line.split(":").at(-1));
  return Object.assign(server, { port });
}

/** Starts `client.ts` against `port` with its input piped. */
export function startClient(port: number, ...args: string[]): Program {
  return new Program("client.ts", ["--port", String(port), ...args], true);
}
