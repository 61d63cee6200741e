/**
 * Server processes: start one, wait for the line that says it is ready, keep
 * the tail of what it prints (for error messages), and stop it. Every started
 * process is registered so that an error, Ctrl-C or SIGTERM anywhere still
 * kills it: a benchmark must never leave a server behind.
 *
 * @module
 */

/** Bytes of a server's output kept for diagnostics. */
const TAIL_BYTES = 8192;

/** How long a server gets to exit after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 2000;

/** A running server process. */
export class ServerProcess {
  readonly pid: number;
  readonly name: string;
  readonly #child: Deno.ChildProcess;
  #tail = "";
  #exited = false;
  readonly status: Promise<Deno.CommandStatus>;
  readonly #drained: Promise<void>;
  #lineWaiters: Array<
    { pattern: RegExp; resolve: (m: RegExpMatchArray) => void }
  > = [];

  /** @param name label for messages @param child the spawned process */
  constructor(name: string, child: Deno.ChildProcess) {
    this.name = name;
    this.#child = child;
    this.pid = child.pid;
    this.status = child.status.then((status) => {
      this.#exited = true;
      return status;
    });
    this.#drained = Promise.all([
      this.#drain(child.stdout),
      this.#drain(child.stderr),
    ]).then(() => {});
  }

  /** Whether the process has exited. */
  get exited(): boolean {
    return this.#exited;
  }

  /** The last few kilobytes the process printed. */
  get outputTail(): string {
    return this.#tail;
  }

  /**
   * Resolves with the first output line matching `pattern`; rejects after
   * `timeoutMs` or if the process exits first, quoting its output.
   */
  async waitForLine(
    pattern: RegExp,
    timeoutMs: number,
  ): Promise<RegExpMatchArray> {
    const seen = this.#tail.split("\n").map((line) => line.match(pattern))
      .find((match) => match !== null);
    if (seen) return seen;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let waiter: { pattern: RegExp; resolve: (m: RegExpMatchArray) => void };
    const matched = new Promise<RegExpMatchArray>((resolve) => {
      waiter = { pattern, resolve };
      this.#lineWaiters.push(waiter);
    });
    const failed = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `${this.name} did not print ${pattern} within ${timeoutMs} ms; ` +
                `output:\n${this.#tail.trim()}`,
            ),
          ),
        timeoutMs,
      );
      this.status.then((status) =>
        reject(
          new Error(
            `${this.name} exited (code ${status.code}) before it was ready; ` +
              `output:\n${this.#tail.trim()}`,
          ),
        )
      ).catch(() => {});
    });
    try {
      return await Promise.race([matched, failed]);
    } finally {
      clearTimeout(timer);
      this.#lineWaiters = this.#lineWaiters.filter((w) => w !== waiter);
    }
  }

  /**
   * SIGTERM, then SIGKILL after `graceMs` (2 s unless given); waits for the
   * exit.
   */
  async stop(graceMs: number = STOP_GRACE_MS): Promise<void> {
    running.delete(this);
    if (!this.#exited) {
      signal(this.pid, "SIGTERM");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((resolve) => {
        timer = setTimeout(() => resolve("late"), graceMs);
      });
      const outcome = await Promise.race([this.status, late]);
      clearTimeout(timer);
      if (outcome === "late") signal(this.pid, "SIGKILL");
    }
    await this.status;
    await this.#drained;
  }

  async #drain(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    // This stream's unfinished last line (stdout and stderr interleave).
    let pending = "";
    try {
      for await (const chunk of stream) {
        const text = decoder.decode(chunk, { stream: true });
        this.#tail = (this.#tail + text).slice(-TAIL_BYTES);
        const lines = (pending + text).split("\n");
        pending = (lines.pop() ?? "").slice(-TAIL_BYTES);
        for (const waiter of this.#lineWaiters) {
          const match = lines.map((line) => line.match(waiter.pattern))
            .find((m) => m !== null);
          if (match) waiter.resolve(match);
        }
      }
    } catch {
      // The pipe broke because the process died: its status says how.
    }
  }
}

/** Sends a signal, ignoring a process that is already gone. */
function signal(pid: number, name: Deno.Signal): void {
  try {
    Deno.kill(pid, name);
  } catch {
    // Already exited.
  }
}

/** Every server not yet stopped, for the emergency stop. */
const running = new Set<ServerProcess>();

/** Temporary directories to remove on an emergency stop. */
const tempDirs = new Set<string>();

/**
 * Creates a temporary directory that is removed by `remove()`, or by the
 * signal handler if the run is interrupted first.
 */
export async function makeTempDir(
  prefix: string,
): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await Deno.makeTempDir({ prefix });
  tempDirs.add(path);
  return {
    path,
    remove: async () => {
      tempDirs.delete(path);
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/** Starts `command args...` with piped output and no stdin. */
export function startProcess(
  name: string,
  command: string,
  args: string[],
): ServerProcess {
  const child = new Deno.Command(command, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const server = new ServerProcess(name, child);
  running.add(server);
  return server;
}

/** Stops every server still running; used on errors and signals. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((server) => server.stop()));
}

/**
 * On SIGINT or SIGTERM: kill every server at once (SIGKILL, no grace; the
 * user wants out), remove their temporary directories, and exit 130.
 * Returns a function that removes the handlers.
 */
export function killServersOnSignal(): () => void {
  const handler = () => {
    console.error("\ninterrupted: stopping servers");
    for (const server of running) signal(server.pid, "SIGKILL");
    for (const path of tempDirs) {
      try {
        Deno.removeSync(path, { recursive: true });
      } catch {
        // Already gone.
      }
    }
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", handler);
  Deno.addSignalListener("SIGTERM", handler);
  return () => {
    Deno.removeSignalListener("SIGINT", handler);
    Deno.removeSignalListener("SIGTERM", handler);
  };
}

/**
 * A free loopback TCP port: bind port 0, read the port, release it. There is
 * a small window in which another program could take it; a server that
 * cannot bind then fails loudly at start.
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Whether `command` is an executable found on PATH (or is a path to one). */
export function findExecutable(command: string): string | null {
  const candidates = command.includes("/")
    ? [command]
    : (Deno.env.get("PATH") ?? "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
      .split(":")
      .concat(["/usr/sbin", "/sbin"])
      .map((dir) => `${dir}/${command}`);
  for (const path of candidates) {
    try {
      const info = Deno.statSync(path);
      if (info.isFile && info.mode !== null && (info.mode & 0o111) !== 0) {
        return path;
      }
    } catch {
      // Not here.
    }
  }
  return null;
}
