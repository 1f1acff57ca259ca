import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DiskFileHandle } from './disk-fs.js';
import { HandleCache } from './handle-cache.js';

function fakeCache(maxOpen: number, failOpen = new Set<number>()) {
  const log: string[] = [];
  let open = 0;
  let peak = 0;
  const cache = new HandleCache({
    maxOpen,
    open: async (fileIndex) => {
      open++;
      peak = Math.max(peak, open);
      await new Promise((resolve) => setImmediate(resolve));
      if (failOpen.has(fileIndex)) {
        open--;
        throw new Error(`cannot open ${fileIndex}`);
      }
      log.push(`open ${fileIndex}`);
      return { fileIndex } as unknown as DiskFileHandle;
    },
    close: async (fileIndex) => {
      await new Promise((resolve) => setImmediate(resolve));
      log.push(`close ${fileIndex}`);
      open--;
    },
  });
  return { cache, log, stats: () => ({ open, peak }) };
}

describe('HandleCache', () => {
  it('evicts the least recently used idle handle', async () => {
    const { cache, log } = fakeCache(2);
    for (const i of [0, 1, 0, 2, 0, 3]) (await cache.acquire(i)).release();
    assert.deepEqual(log, ['open 0', 'open 1', 'close 1', 'open 2', 'close 2', 'open 3']);
    assert.equal(cache.size, 2);
  });

  it('never evicts a leased handle and waits for a release when every slot is leased', async () => {
    const { cache, log, stats } = fakeCache(2);
    const a = await cache.acquire(0);
    const b = await cache.acquire(1);
    let gotThird = false;
    const third = cache.acquire(2).then((lease) => {
      gotThird = true;
      return lease;
    });
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(gotThird, false);
    b.release();
    (await third).release();
    assert.deepEqual(log, ['open 0', 'open 1', 'close 1', 'open 2']);
    a.release();
    assert.ok(stats().peak <= 2);
  });

  it('shares one open between concurrent acquirers and stays bounded under load', async () => {
    const { cache, stats } = fakeCache(3);
    const work = Array.from({ length: 200 }, async (_, k) => {
      const lease = await cache.acquire(k % 7);
      await new Promise((resolve) => setImmediate(resolve));
      lease.release();
    });
    await Promise.all(work);
    assert.ok(stats().peak <= 3, `peak ${stats().peak}`);
    await cache.closeAll();
    assert.equal(stats().open, 0);
    await assert.rejects(cache.acquire(0));
  });

  it('reports an open failure to every waiter and frees the slot', async () => {
    const { cache } = fakeCache(1, new Set([5]));
    const results = await Promise.allSettled([cache.acquire(5), cache.acquire(5)]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected'],
    );
    assert.equal(cache.size, 0);
    (await cache.acquire(1)).release();
  });

  it('discards an idle handle so the next acquire reopens the file; never a leased one', async () => {
    const { cache, log, stats } = fakeCache(2);
    const lease = await cache.acquire(0);
    cache.discard(0); // leased: kept
    lease.release();
    cache.discard(0); // idle: closed
    await cache.closeAll(); // waits for the eviction under way
    assert.deepEqual(log, ['open 0', 'close 0']);
    assert.equal(stats().open, 0);
    await assert.rejects(cache.acquire(0), /closed/);
  });
});
