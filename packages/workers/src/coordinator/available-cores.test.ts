import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { describe, it } from 'node:test';
import {
  availableCores,
  CGROUP_V1_CPU_PERIOD,
  CGROUP_V1_CPU_QUOTA,
  CGROUP_V2_CPU_MAX,
  cgroupCpuLimit,
  cgroupV1CpuLimit,
  defaultPeerHosts,
} from './available-cores.js';

/** A file system of fixture texts: every other path is absent. */
const files =
  (texts: Record<string, string>) =>
  (path: string): string | undefined =>
    texts[path];

describe('availableCores', () => {
  it('reads cgroup v2 cpu.max: a quota in whole cores, rounded down, at least 1; max is no limit', () => {
    assert.equal(cgroupCpuLimit('200000 100000\n'), 2);
    assert.equal(cgroupCpuLimit('150000 100000\n'), 1);
    assert.equal(cgroupCpuLimit('50000 100000\n'), 1);
    assert.equal(cgroupCpuLimit('400000 50000'), 8);
    assert.equal(cgroupCpuLimit('max 100000\n'), undefined);
    assert.equal(cgroupCpuLimit(''), undefined);
    assert.equal(cgroupCpuLimit('garbage here'), undefined);
  });

  it('reads cgroup v1 quota and period (-1: no limit)', () => {
    assert.equal(cgroupV1CpuLimit('300000\n', '100000\n'), 3);
    assert.equal(cgroupV1CpuLimit('-1\n', '100000\n'), undefined);
  });

  it('caps availableParallelism by the cgroup quota, and falls back to it without one', () => {
    const v2 = files({ [CGROUP_V2_CPU_MAX]: '200000 100000\n' });
    assert.equal(availableCores({ parallelism: 16, read: v2 }), 2);
    // A quota above the affinity mask does not add cores.
    assert.equal(availableCores({ parallelism: 1, read: v2 }), 1);
    assert.equal(availableCores({ parallelism: 6, read: files({ [CGROUP_V2_CPU_MAX]: 'max 100000\n' }) }), 6);
    assert.equal(availableCores({ parallelism: 6, read: files({}) }), 6);
    const v1 = files({ [CGROUP_V1_CPU_QUOTA]: '150000\n', [CGROUP_V1_CPU_PERIOD]: '50000\n' });
    assert.equal(availableCores({ parallelism: 8, read: v1 }), 3);
    // The real machine: never more than availableParallelism(), at least 1.
    const real = availableCores();
    assert.ok(real >= 1 && real <= availableParallelism());
  });

  it('defaults peer hosts to one per core but the coordinator, at least 1', () => {
    assert.equal(defaultPeerHosts(1), 1);
    assert.equal(defaultPeerHosts(2), 1);
    assert.equal(defaultPeerHosts(4), 3);
    assert.equal(defaultPeerHosts(8), 7);
    assert.equal(defaultPeerHosts(), Math.max(1, availableCores() - 1));
  });
});
