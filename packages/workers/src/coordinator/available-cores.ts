import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** cgroup v2's CPU limit file ("QUOTA PERIOD" or "max PERIOD"). */
export const CGROUP_V2_CPU_MAX = '/sys/fs/cgroup/cpu.max';
/** cgroup v1's quota and period files (quota -1: no limit). */
export const CGROUP_V1_CPU_QUOTA = '/sys/fs/cgroup/cpu/cpu.cfs_quota_us';
export const CGROUP_V1_CPU_PERIOD = '/sys/fs/cgroup/cpu/cpu.cfs_period_us';

/**
 * The cores a cgroup v2 `cpu.max` text allows (`"200000 100000"` → 2, `"150000 100000"` → 1), or
 * undefined when it sets no limit (`"max 100000"`) or cannot be read. Rounded down, at least 1: a
 * quota of 1.5 cores cannot keep two threads busy.
 */
export function cgroupCpuLimit(cpuMax: string): number | undefined {
  const [quota, period] = cpuMax.trim().split(/\s+/);
  if (quota === undefined || quota === 'max') return undefined;
  return quotaCores(Number(quota), Number(period ?? 100_000));
}

/** The cgroup v1 form of `cgroupCpuLimit`: `cpu.cfs_quota_us` (-1: none) and `cpu.cfs_period_us`. */
export function cgroupV1CpuLimit(quotaText: string, periodText: string): number | undefined {
  return quotaCores(Number(quotaText.trim()), Number(periodText.trim()));
}

function quotaCores(quota: number, period: number): number | undefined {
  if (!Number.isFinite(quota) || !Number.isFinite(period) || quota <= 0 || period <= 0) return undefined;
  return Math.max(1, Math.floor(quota / period));
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

export interface AvailableCoresSources {
  /** `os.availableParallelism()` (the CPU affinity mask's size). */
  readonly parallelism?: number;
  /** Reads a file's text, undefined when absent; default: the real file system. */
  readonly read?: (path: string) => string | undefined;
}

let cached: number | undefined;

/**
 * The cores this process may really use: `os.availableParallelism()` (the affinity mask), capped
 * by a cgroup CPU quota where one is set (v2 `/sys/fs/cgroup/cpu.max`, else v1
 * `cpu.cfs_quota_us` / `cpu.cfs_period_us`), as in a container given `--cpus 2` on a 16-core host.
 * Without sources the answer is read once and cached.
 */
export function availableCores(sources?: AvailableCoresSources): number {
  if (sources === undefined && cached !== undefined) return cached;
  const read = sources?.read ?? readText;
  const parallelism = Math.max(1, sources?.parallelism ?? availableParallelism());
  const v2 = read(CGROUP_V2_CPU_MAX);
  let limit = v2 === undefined ? undefined : cgroupCpuLimit(v2);
  if (v2 === undefined) {
    const quota = read(CGROUP_V1_CPU_QUOTA);
    const period = read(CGROUP_V1_CPU_PERIOD);
    if (quota !== undefined && period !== undefined) limit = cgroupV1CpuLimit(quota, period);
  }
  const cores = Math.min(parallelism, limit ?? parallelism);
  if (sources === undefined) cached = cores;
  return cores;
}

/**
 * The default number of peer host threads: one per available core but the one the coordinator
 * (the main thread: engine, disk, tracker) keeps busy, at least 1 — so there are never more busy
 * threads than cores. 2 cores → 1 host, 4 → 3, 8 → 7. Measured on 2 cores (docs/performance.md
 * "Peer hosts and cores"): 1 host moves data as fast as 2 for less CPU; more hosts than cores lose.
 */
export function defaultPeerHosts(cores: number = availableCores()): number {
  return Math.max(1, Math.floor(cores) - 1);
}
