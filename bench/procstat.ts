/**
 * Readers for Linux's /proc: CPU time and memory of a process, the state of
 * one of our own TCP sockets, and a description of the machine. The
 * benchmark reports what the kernel accounted, not what a process says of
 * itself, so the three servers are measured the same way.
 *
 * @module
 */

/**
 * Clock ticks per second for /proc/PID/stat times. Linux has reported
 * USER_HZ = 100 on every mainstream architecture for decades; `getconf
 * CLK_TCK` would need a subprocess for a constant.
 */
export const CLOCK_TICKS_PER_SECOND = 100;

/** User plus system CPU time of a process, in seconds. */
export interface CpuTime {
  user: number;
  system: number;
  total: number;
}

/**
 * CPU time used so far by `pid` (or this process for "self"), from
 * /proc/PID/stat fields 14 and 15. Null when the process is gone.
 */
export function readCpu(pid: number | "self"): CpuTime | null {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may hold spaces, so
  // count fields from the last ")".
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state): utime (14) is fields[11], stime fields[12].
  const user = Number(fields[11]) / CLOCK_TICKS_PER_SECOND;
  const system = Number(fields[12]) / CLOCK_TICKS_PER_SECOND;
  return { user, system, total: user + system };
}

/**
 * CPU time used so far by the live threads of `pid`, in seconds, from the
 * nanosecond run times in /proc/PID/task/TID/schedstat. Finer than
 * {@linkcode readCpu}'s clock ticks (10 ms), which matters for a process as
 * lightly loaded as Redis under a modest load; time of threads that have
 * exited is not counted, so it suits a process whose threads live as long
 * as it does. Null when the process is gone.
 */
export function readThreadsCpu(pid: number): number | null {
  let ns = 0;
  try {
    for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
      try {
        const text = Deno.readTextFileSync(
          `/proc/${pid}/task/${task.name}/schedstat`,
        );
        ns += Number(text.split(" ")[0]);
      } catch {
        // The thread ended between listing and reading.
      }
    }
  } catch {
    return null;
  }
  return ns / 1e9;
}

/** Resident memory of a process, in KiB. */
export interface Memory {
  /** VmRSS: resident now. */
  rssKiB: number;
  /** VmHWM: the peak resident size over the process's life. */
  hwmKiB: number;
}

/** Current and peak resident memory of `pid`; null when it is gone. */
export function readMemory(pid: number | "self"): Memory | null {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/status`);
  } catch {
    return null;
  }
  const field = (name: string): number => {
    const match = text.match(new RegExp(`^${name}:\\s+(\\d+) kB`, "m"));
    return match ? Number(match[1]) : 0;
  };
  return { rssKiB: field("VmRSS"), hwmKiB: field("VmHWM") };
}

/** TCP states as /proc/net/tcp numbers them (include/net/tcp_states.h). */
const TCP_STATES: Record<string, string> = {
  "01": "ESTABLISHED",
  "02": "SYN_SENT",
  "03": "SYN_RECV",
  "04": "FIN_WAIT1",
  "05": "FIN_WAIT2",
  "06": "TIME_WAIT",
  "07": "CLOSE",
  "08": "CLOSE_WAIT",
  "09": "LAST_ACK",
  "0A": "LISTEN",
  "0B": "CLOSING",
};

/**
 * The kernel's state of the server's end of our loopback connection from
 * `clientPort` (the socket whose remote address is 127.0.0.1:clientPort), or
 * "GONE" when the server has dropped it. Our own end cannot tell: when a
 * server closes a connection to a client that never reads, its FIN waits
 * behind megabytes of unread data and our socket stays ESTABLISHED, while
 * the server's end moves to FIN_WAIT1 at once.
 */
export function serverSideTcpState(clientPort: number): string {
  let text: string;
  try {
    text = Deno.readTextFileSync("/proc/net/tcp");
  } catch {
    return "UNKNOWN";
  }
  const wanted = `0100007F:${
    clientPort.toString(16).toUpperCase().padStart(4, "0")
  }`;
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/);
    if (fields[2] === wanted) return TCP_STATES[fields[3] ?? ""] ?? "?";
  }
  return "GONE";
}

/** The open-file limits of this process, from /proc/self/limits. */
export function openFileLimits(): { soft: number; hard: number } {
  const text = Deno.readTextFileSync("/proc/self/limits");
  const match = text.match(/^Max open files\s+(\S+)\s+(\S+)/m);
  const parse = (value: string | undefined) =>
    value === undefined || value === "unlimited" ? Infinity : Number(value);
  return { soft: parse(match?.[1]), hard: parse(match?.[2]) };
}

/** What a result was measured on, written into the JSON next to it. */
export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  kernel: string;
  memTotalMiB: number;
  deno: string;
  v8: string;
  date: string;
}

/**
 * How many CPUs this process may run on, as `nproc` counts them (the
 * affinity mask, not every CPU the machine has).
 */
function allowedCpus(status: string): number | null {
  const list = status.match(/^Cpus_allowed_list:\s*(\S+)/m)?.[1];
  if (list === undefined) return null;
  let count = 0;
  for (const range of list.split(",")) {
    const [first, last] = range.split("-").map(Number);
    if (first === undefined || !Number.isFinite(first)) return null;
    count += last === undefined ? 1 : last - first + 1;
  }
  return count;
}

/** Describes this machine and runtime for the results file. */
export function machineInfo(): MachineInfo {
  const read = (path: string): string => {
    try {
      return Deno.readTextFileSync(path);
    } catch {
      return "";
    }
  };
  const cpuinfo = read("/proc/cpuinfo");
  const memTotal = read("/proc/meminfo").match(/^MemTotal:\s+(\d+) kB/m);
  return {
    nproc: allowedCpus(read("/proc/self/status")) ??
      navigator.hardwareConcurrency,
    cpuModel: cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1]?.trim() ??
      "unknown",
    kernel: read("/proc/sys/kernel/osrelease").trim(),
    memTotalMiB: memTotal ? Math.round(Number(memTotal[1]) / 1024) : 0,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    date: new Date().toISOString(),
  };
}
