/**
 * A real `redis-server` for the cluster tests: a free loopback port, a
 * temporary directory holding anything it writes (removed after), and a
 * start that waits for Redis to say it is ready rather than sleeping.
 *
 * @module
 */

import { within } from "./helpers.ts";

/** Says whether `redis-server` can be run on this machine. */
export async function redisServerInstalled(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("redis-server", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Set in the test process once the skip line is printed. */
const SKIP_SAID = "TERN_CLUSTER_SKIP_SAID";

/**
 * Registers a file's cluster tests if `redis-server` is installed. Without
 * it they are left out and one line, printed once for the whole test run
 * (the test files share the process's environment, not their globals), says
 * so and how to get them; with `TERN_CLUSTER_TESTS=required`, as CI sets, a
 * missing `redis-server` is a failing test instead of a skip.
 */
export async function clusterTests(register: () => void): Promise<void> {
  if (await redisServerInstalled()) {
    register();
    return;
  }
  if (Deno.env.get("TERN_CLUSTER_TESTS") === "required") {
    Deno.test("cluster tests need redis-server", () => {
      throw new Error(
        "TERN_CLUSTER_TESTS=required but redis-server is missing",
      );
    });
    return;
  }
  if (Deno.env.get(SKIP_SAID) === undefined) {
    Deno.env.set(SKIP_SAID, "1");
    console.log(
      "cluster tests skipped: redis-server is not installed (apt-get install redis-server, or run .ci/run, which installs it)",
    );
  }
}

/** A running `redis-server` that stops and cleans up at the end of a `using` block. */
export interface RedisServer extends AsyncDisposable {
  /** `redis://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** Stops it (SIGTERM) and waits for it to exit; the directory stays. */
  stop(): Promise<void>;
  /** Starts it again on the same port and directory. */
  restart(): Promise<void>;
  /**
   * Freezes it (SIGSTOP): connections stay open and nothing is answered,
   * as a Redis that hangs rather than dies. Stop and dispose thaw it first.
   */
  freeze(): void;
  /** Lets a frozen Redis run again (SIGCONT). */
  thaw(): void;
  /**
   * Kills it (SIGKILL), frozen or not, and waits for it to exit: what it
   * had not answered is lost with its connections. `restart` starts it
   * again.
   */
  crash(): Promise<void>;
}

/** A port nobody listens on right now (Redis binds it a moment later). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

/** How a test's Redis is started. */
export interface RedisOptions {
  /**
   * Keep an append-only file (fsync every second) in the temporary
   * directory, so a restart keeps what was written: for tests of a restart
   * that must lose nothing. @default false
   */
  appendOnly?: boolean;
  /**
   * Hide `CONFIG` (renamed), as managed Redis services often do, to test
   * what a node does when it cannot read Redis's settings. @default false
   */
  hideConfig?: boolean;
}

/**
 * Starts `redis-server` on loopback: no snapshots, and no append-only file
 * unless asked (most tests need no durability), its working directory a
 * fresh temporary one.
 */
export async function startRedis(
  options: RedisOptions = {},
): Promise<RedisServer> {
  const dir = await Deno.makeTempDir({ prefix: "tern-redis-" });
  const port = freePort();
  let child: Deno.ChildProcess | null = null;
  let output: Promise<string> = Promise.resolve("");
  const launch = async () => {
    child = new Deno.Command("redis-server", {
      args: [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        dir,
        "--save",
        "",
        "--appendonly",
        options.appendOnly ? "yes" : "no",
        "--appendfsync",
        "everysec",
        ...(options.hideConfig
          ? ["--rename-command", "CONFIG", "tern-test-hidden-config"]
          : []),
        "--loglevel",
        "notice",
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const running = child;
    let ready: () => void = () => {};
    const isReady = new Promise<void>((resolve) => ready = resolve);
    // Read all of its output to the end so the pipes close with the process.
    output = (async () => {
      let text = "";
      const decoder = new TextDecoder();
      for await (const chunk of running.stdout) {
        text += decoder.decode(chunk, { stream: true });
        if (text.includes("Ready to accept connections")) ready();
      }
      await running.stderr.cancel();
      return text;
    })();
    const exited = running.status.then((status) => {
      throw new Error(`redis-server exited early (code ${status.code})`);
    });
    exited.catch(() => {});
    await within(Promise.race([isReady, exited]), "redis-server to start");
  };
  const end = async (signals: Deno.Signal[]) => {
    if (child === null) return;
    const running: Deno.ChildProcess = child;
    child = null;
    try {
      for (const signal of signals) running.kill(signal);
    } catch {
      // Already gone.
    }
    await running.status;
    await output;
  };
  const stop = () => end(["SIGCONT", "SIGTERM"]);
  try {
    await launch();
  } catch (error) {
    await stop();
    await Deno.remove(dir, { recursive: true });
    throw error;
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    restart: launch,
    freeze: () => (child as Deno.ChildProcess | null)?.kill("SIGSTOP"),
    thaw: () => (child as Deno.ChildProcess | null)?.kill("SIGCONT"),
    crash: () => end(["SIGKILL"]),
    async [Symbol.asyncDispose]() {
      await stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
}
