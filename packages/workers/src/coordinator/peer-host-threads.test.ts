import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HostCommand } from '@tork/core';
import { rogueHostWorkerUrl } from '@tork/testkit';
import { HOST_THREAD_YOUNG_GENERATION_MB } from '../shared/start-worker.js';
import { availableCores, defaultPeerHosts } from './available-cores.js';
import {
  eagerPeerHosts,
  peerHostWorkerData,
  prestartPeerHosts,
  startPeerHostThread,
  workersFromArgs,
} from './peer-host-threads.js';
import { ThreadActorSystem } from './thread-actor-system.js';

describe('workersFromArgs', () => {
  it('reads --workers N and --workers=N in the option range, else leaves it to the parser', () => {
    assert.equal(workersFromArgs(['x.torrent', '--workers', '3', '--out', 'd']), 3);
    assert.equal(workersFromArgs(['--workers=8']), 8);
    assert.equal(workersFromArgs(['--workers', '2', '--workers', '4']), 4, 'the last one wins, as parseArgs');
    assert.equal(workersFromArgs(['x.torrent']), undefined);
    for (const bad of ['0', '65', '-1', '2.5', 'many', '']) {
      assert.equal(workersFromArgs(['--workers', bad]), undefined, bad);
    }
    assert.equal(workersFromArgs(['--workers']), undefined);
    assert.equal(workersFromArgs(['--', '--workers', '3']), undefined, 'after --: a positional');
  });
});

describe('eagerPeerHosts', () => {
  it('starts --workers N at once up to the cores; above them, the default (cores less one) and the rest on demand', () => {
    const cores = availableCores();
    const fallback = defaultPeerHosts();
    assert.equal(fallback, Math.max(1, cores - 1));
    assert.equal(eagerPeerHosts(), fallback);
    for (let workers = 1; workers <= cores; workers++) assert.equal(eagerPeerHosts(workers), workers);
    assert.equal(eagerPeerHosts(cores + 1), fallback, 'one more than the cores: not one host on every core');
    assert.equal(eagerPeerHosts(64), fallback);
  });
});

describe('prestarted peer hosts', () => {
  it('are adopted by a ThreadActorSystem asking for the same hosts, and serve', async () => {
    const threads = prestartPeerHosts(2);
    const system = await ThreadActorSystem.start({ workers: 2, prestarted: threads });
    try {
      assert.deepEqual(
        system.threadIds,
        threads.map((thread) => thread.worker.threadId),
        'the prestarted threads are the hosts',
      );
      const stats = await system.stats();
      assert.equal(stats.length, 2);
      for (const thread of threads) {
        // docs/limits.md: each host's young generation is capped (not V8's default of 48 MiB).
        assert.equal(
          thread.worker.resourceLimits?.maxYoungGenerationSizeMb,
          HOST_THREAD_YOUNG_GENERATION_MB,
          'the young generation limit',
        );
      }
    } finally {
      await system.close();
    }
    await Promise.all(threads.map((thread) => thread.exited));
  });

  it('are not adopted for another count (their buffer budget differs): ended, fresh hosts start', async () => {
    const threads = prestartPeerHosts(2);
    const system = await ThreadActorSystem.start({ workers: 1, prestarted: threads });
    try {
      assert.equal(system.hostCount, 1);
      const ids = new Set(threads.map((thread) => thread.worker.threadId));
      assert.ok(!ids.has(system.threadIds[0]!), 'a fresh thread');
      const codes = await Promise.all(threads.map((thread) => thread.exited));
      assert.equal(codes.length, 2, 'both prestarted threads ended');
      assert.equal((await system.stats()).length, 1);
    } finally {
      await system.close();
    }
  });

  it('one that died before it was adopted is replaced by a fresh thread', async () => {
    const broken = startPeerHostThread(
      new URL('data:text/javascript,throw new Error("no code here")'),
      peerHostWorkerData(0, 1),
    );
    assert.equal(await broken.exited, 1);
    assert.match(String(broken.error()?.message), /no code here/, 'its error was kept');
    const system = await ThreadActorSystem.start({ workers: 1, prestarted: [broken] });
    try {
      assert.notEqual(system.threadIds[0], -1);
      assert.equal((await system.stats()).length, 1, 'a fresh host serves');
    } finally {
      await system.close();
    }
  });
});

describe('hosts started on demand (onDemandFrom)', () => {
  const connect = (actorId: number): HostCommand => ({
    type: 'connect',
    actorId,
    torrentId: 'a'.repeat(40),
    host: '127.0.0.1',
    port: 9,
  });
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  // A free core is a condition: one core available leaves none beside the coordinator.
  const oneCore = availableCores() < 2 ? 'one core available: no host is ever started on demand' : false;

  it('start one more host per stats sample while every running one is saturated, up to workers', {
    skip: oneCore,
  }, async () => {
    const system = await ThreadActorSystem.start({
      workers: 3,
      onDemandFrom: 1,
      hostEntry: rogueHostWorkerUrl('saturated'),
      onError: () => {},
    });
    try {
      assert.equal(system.hostCount, 1, 'only the first host at start');
      system.send([connect(1)]);
      assert.equal(system.hostOf(1), 0);
      // Each sample: this process idles (a core is free) and every host says it was 95 % busy. A
      // sample decides only after 100 ms, and the first windows may include the threads' own
      // code load (CPU that counts against a free core): sample until the host starts, checking
      // that no sample ever starts more than one.
      const sampleUntil = async (hosts: number): Promise<number[]> => {
        const reported: number[] = [];
        for (let sample = 0; sample < 20 && system.hostCount < hosts; sample++) {
          const before = system.hostCount;
          await pause(150);
          reported.push((await system.stats()).length);
          assert.ok(
            system.hostCount <= before + 1,
            `one host per sample at most (${before} → ${system.hostCount})`,
          );
        }
        return reported;
      };
      await sampleUntil(2);
      assert.equal(system.hostCount, 2, 'a second host after saturated samples');
      await system.ready();
      system.send([connect(2)]);
      assert.equal(system.hostOf(2), 1, 'the next connection goes to the new, unmeasured host');
      const reported = await sampleUntil(3);
      assert.equal(system.hostCount, 3);
      // The sample that started the third host was answered by the two running before it.
      assert.equal(reported.at(-1), 2);
      await pause(150);
      await system.stats();
      assert.equal(system.hostCount, 3, 'never more than workers');
    } finally {
      await system.close();
    }
  });

  it('start none while a running host has time to spare', async () => {
    const system = await ThreadActorSystem.start({
      workers: 4,
      onDemandFrom: 2,
      hostEntry: rogueHostWorkerUrl('idle'),
      onError: () => {},
    });
    try {
      assert.equal(system.hostCount, 2);
      for (let sample = 0; sample < 3; sample++) {
        await pause(150);
        await system.stats();
      }
      assert.equal(system.hostCount, 2, 'hosts busy 10 %: no more threads');
      // Placement by measured load: equal busy shares, so by count.
      system.send([connect(1), connect(2), connect(3)]);
      assert.deepEqual(
        [1, 2, 3].map((id) => system.hostOf(id)),
        [0, 1, 0],
      );
    } finally {
      await system.close();
    }
  });
});
