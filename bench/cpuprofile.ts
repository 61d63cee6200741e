/**
 * Summarizes a V8 CPU profile (`deno run --cpu-prof`, or the benchmark's
 * `--tern-profile DIR`): self time per function, largest first, as a share
 * of the time the process was busy (idle time left out).
 *
 *   deno run -R bench/cpuprofile.ts FILE.cpuprofile [--top 25]
 *
 * @module
 */

import { parseArgs } from "node:util";

/** The parts of a `.cpuprofile` file this reads. */
interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
  }>;
  samples: number[];
  timeDeltas: number[];
}

/** One function's share of the busy time. */
export interface SelfTime {
  name: string;
  ms: number;
  /** Share of the busy (non-idle) time, 0 to 1. */
  share: number;
}

/** Self time per function, largest first; idle time is reported apart. */
export function selfTimes(
  profile: CpuProfile,
): { busyMs: number; idleMs: number; rows: SelfTime[] } {
  const names = new Map<number, string>();
  for (const node of profile.nodes) {
    const frame = node.callFrame;
    const file = frame.url.split("/").at(-1) ?? "";
    names.set(
      node.id,
      `${frame.functionName || "(anonymous)"}${
        file ? ` ${file}:${frame.lineNumber + 1}` : ""
      }`,
    );
  }
  const byName = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const name = names.get(id) ?? "(unknown)";
    byName.set(name, (byName.get(name) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const idleMs = (byName.get("(idle)") ?? 0) / 1000;
  byName.delete("(idle)");
  const busyMs = [...byName.values()].reduce((a, b) => a + b, 0) / 1000;
  const rows = [...byName]
    .map(([name, us]) => ({ name, ms: us / 1000, share: us / 1000 / busyMs }))
    .sort((a, b) => b.ms - a.ms);
  return { busyMs, idleMs, rows };
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: { top: { type: "string", default: "25" } },
  });
  if (positionals.length !== 1) {
    console.error("cpuprofile: give one .cpuprofile file");
    Deno.exit(2);
  }
  const profile = JSON.parse(Deno.readTextFileSync(positionals[0]!));
  const { busyMs, idleMs, rows } = selfTimes(profile);
  console.log(
    `busy ${busyMs.toFixed(0)} ms, idle ${
      idleMs.toFixed(0)
    } ms; self time by function:`,
  );
  for (const row of rows.slice(0, Number(values.top))) {
    console.log(
      `${row.ms.toFixed(0).padStart(8)} ms ${
        (100 * row.share).toFixed(1).padStart(5)
      } %  ${row.name}`,
    );
  }
}
