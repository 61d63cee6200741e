import assert from "node:assert/strict";
import { Logger, PipeSink } from "./log.ts";

/** A writer whose writes wait until the test lets them finish. */
class HeldWriter {
  readonly written: string[] = [];
  #release: Array<() => void> = [];
  #fail = false;

  write(bytes: Uint8Array): Promise<number> {
    if (this.#fail) return Promise.reject(new Deno.errors.BrokenPipe("gone"));
    return new Promise((resolve) => {
      this.#release.push(() => {
        this.written.push(new TextDecoder().decode(bytes));
        resolve(bytes.length);
      });
    });
  }

  /** Lets the write in flight finish; returns whether there was one. */
  releaseOne(): boolean {
    const release = this.#release.shift();
    release?.();
    return release !== undefined;
  }

  breakPipe(): void {
    this.#fail = true;
  }
}

/** Lets microtasks and promise callbacks run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

Deno.test("a blocked log pipe drops lines past the buffer, counts them and says so once", async () => {
  const writer = new HeldWriter();
  const pipe = new PipeSink(writer, 300);
  const logger = new Logger("info", "text", pipe);
  for (let i = 0; i < 20; i++) logger.info("line", { i });
  // Nothing waited: the first line is in flight, a few more fit, the rest
  // were dropped and counted.
  assert.ok(logger.dropped > 10, `dropped ${logger.dropped}`);
  const dropped = logger.dropped;
  while (writer.releaseOne()) await settle();
  logger.info("after");
  while (writer.releaseOne()) await settle();
  const text = writer.written.join("");
  assert.match(text, new RegExp(`WARN log_lines_dropped count=${dropped}\\n`));
  assert.match(text, /INFO after\n$/);
  assert.equal(text.match(/log_lines_dropped/g)?.length, 1);
  await pipe.drain(100);
});

Deno.test("a broken log pipe is never an exception; lines are counted as dropped", async () => {
  const writer = new HeldWriter();
  const pipe = new PipeSink(writer, 1024);
  const logger = new Logger("info", "json", pipe);
  writer.breakPipe();
  logger.error("first");
  await settle();
  assert.equal(pipe.broken, true);
  for (let i = 0; i < 5; i++) logger.error("more");
  assert.equal(logger.dropped, 6);
  await pipe.drain(100);
});

Deno.test("a sink that throws costs the line, not the caller", () => {
  const logger = new Logger("info", "text", () => {
    throw new Error("sink failed");
  });
  logger.info("event");
  assert.equal(logger.dropped, 1);
});
