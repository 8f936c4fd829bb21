// The host's CPU utilization and memory, read from /proc as Triton reads them for its
// nv_cpu_* gauges. Parsing is pure; the sampler reads every --metrics-interval-ms.
import { readFile } from 'node:fs/promises';

export interface CpuTimes {
  /** Jiffies idle (idle + iowait). */
  readonly idle: number;
  /** Jiffies of every state (guest time is already inside user and nice). */
  readonly total: number;
}

/** The aggregate `cpu` line of /proc/stat. */
export function parseProcStat(text: string): CpuTimes {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw new Error("/proc/stat has no 'cpu' line");
  const fields = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (fields.length < 4 || fields.some((n) => !Number.isFinite(n))) throw new Error(`/proc/stat: unreadable 'cpu' line '${line}'`);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields;
  return { idle: idle + iowait, total: user + nice + system + idle + iowait + irq + softirq + steal };
}

/** The busy fraction of all CPUs between two readings, 0..1 (0 when no time passed). */
export function cpuUtilization(before: CpuTimes, after: CpuTimes): number {
  const total = after.total - before.total;
  if (total <= 0) return 0;
  return Math.min(1, Math.max(0, (total - (after.idle - before.idle)) / total));
}

export interface MemoryFigures {
  readonly totalBytes: number;
  /** Total less what the kernel counts as available (MemAvailable), as Triton reports it. */
  readonly usedBytes: number;
}

export function parseMeminfo(text: string): MemoryFigures {
  const kib = (key: string): number => {
    const match = new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(text);
    if (!match) throw new Error(`/proc/meminfo has no ${key}`);
    return Number(match[1]) * 1024;
  };
  const totalBytes = kib('MemTotal');
  return { totalBytes, usedBytes: totalBytes - kib('MemAvailable') };
}

/** Reads /proc every interval; the figures stay 0 where there is no /proc (not Linux). */
export class HostSampler {
  utilization = 0;
  memory: MemoryFigures = { totalBytes: 0, usedBytes: 0 };
  private last: CpuTimes | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly onError: (err: unknown) => void) {}

  start(intervalMs: number): Promise<void> {
    this.timer = setInterval(() => void this.sample(), intervalMs);
    // The gauges are a side path: they never keep the process alive.
    this.timer.unref();
    return this.sample();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async sample(): Promise<void> {
    try {
      const [stat, meminfo] = await Promise.all([readFile('/proc/stat', 'utf8'), readFile('/proc/meminfo', 'utf8')]);
      const times = parseProcStat(stat);
      if (this.last) this.utilization = cpuUtilization(this.last, times);
      this.last = times;
      this.memory = parseMeminfo(meminfo);
    } catch (err) {
      this.stop();
      this.onError(err);
    }
  }
}
