/**
 * `server.ts` as a child process, for faults that only exist around a real
 * process: its stderr pipe, its signals, its exit code, its database file.
 * Runs with the permissions of `deno task start`.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { LineStream, WAIT_MS, within } from "./helpers.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** The permission flags of `deno task start`. */
function startPermissions(): string[] {
  const config = JSON.parse(Deno.readTextFileSync(`${ROOT}/deno.json`));
  return String(config.tasks.start).split(/\s+/)
    .filter((word) => word.startsWith("--allow-"));
}

/** How stderr is handled: read into lines, or left to the test. */
export type StderrMode = "lines" | "raw";

/** A running `server.ts`. */
export class ServerProcess implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  readonly stdout: LineStream;
  /** stderr's lines, when read ("lines" mode). */
  readonly stderr: LineStream | null;

  /**
   * @param args server flags (`--db :memory:` and `--no-http` are added
   *   unless a database or an HTTP port is given, `--no-https` with TLS
   *   unless an HTTPS port is)
   * @param stderr "raw" leaves `child.stderr` to the test
   * @param permissions Deno's permission flags, `deno task start`'s unless
   *   given
   */
  constructor(
    args: string[],
    stderr: StderrMode = "lines",
    permissions: string[] = startPermissions(),
  ) {
    const database = args.includes("--db") ? [] : ["--db", ":memory:"];
    // The web client's fixed default port would collide between servers.
    if (!args.includes("--http-port")) database.push("--no-http");
    if (args.includes("--tls-cert") && !args.includes("--https-port")) {
      database.push("--no-https");
    }
    this.child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...permissions,
        "server.ts",
        "--host",
        "127.0.0.1",
        ...args,
        ...database,
      ],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    this.stdout = new LineStream(this.child.stdout);
    this.stderr = stderr === "lines" ? new LineStream(this.child.stderr) : null;
  }

  /** Waits for the "listening on" line; returns the plain port. */
  async port(): Promise<number> {
    const line = await this.stdout.expect(/ listening on /, 15_000);
    return Number(line.split(":").at(-1)!.split(" ")[0]);
  }

  /** Waits for exit; returns the exit code. */
  async exit(ms = 15_000): Promise<number> {
    const status = await within(this.child.status, "the server to exit", ms);
    await this.stdout.done;
    await this.stderr?.done;
    return status.code;
  }

  /** Sends a signal, if the process is still there. */
  kill(signal: Deno.Signal): void {
    try {
      this.child.kill(signal);
    } catch {
      // Already exited.
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.kill("SIGKILL");
    await this.child.status;
    await this.stdout.done;
    if (this.stderr !== null) await this.stderr.done;
    else await this.child.stderr.cancel().catch(() => {});
  }
}

/** Runs `server.ts` to its exit; returns the code and both outputs' lines. */
export async function runServerToExit(
  args: string[],
): Promise<{ code: number; stdout: string[]; stderr: string[] }> {
  await using server = new ServerProcess(args);
  const code = await server.exit(WAIT_MS * 3);
  return {
    code,
    stdout: server.stdout.received,
    stderr: server.stderr!.received,
  };
}
