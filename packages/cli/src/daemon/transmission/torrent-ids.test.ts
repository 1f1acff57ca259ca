import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_REMOVED_IDS, RECENTLY_ACTIVE_MS, TransmissionIds } from './torrent-ids.js';

const hash = (n: number) => n.toString(16).padStart(40, '0');

describe('TransmissionIds', () => {
  it('numbers torrents in the order first seen, keeps the numbers, and never reuses one', () => {
    const ids = new TransmissionIds();
    ids.sync([hash(10), hash(20)]);
    assert.equal(ids.idOf(hash(10)), 1);
    assert.equal(ids.idOf(hash(20)), 2);
    ids.sync([hash(20), hash(30)]);
    assert.equal(ids.idOf(hash(20)), 2);
    assert.equal(ids.idOf(hash(30)), 3);
    assert.equal(ids.hashOf(1), undefined);
    ids.sync([hash(20), hash(30), hash(10)]);
    assert.equal(ids.idOf(hash(10)), 4, 'a torrent added again gets a new id');
    assert.throws(() => ids.idOf(hash(99)), /no Transmission id/);
  });

  it('selects by number, hash (any case) and recently-active; skips what names nothing', () => {
    const ids = new TransmissionIds();
    ids.sync([hash(0xab), hash(0xcd)]);
    assert.deepEqual(ids.select(undefined), [hash(0xab), hash(0xcd)]);
    assert.deepEqual(ids.select('recently-active'), [hash(0xab), hash(0xcd)]);
    assert.deepEqual(ids.select(2), [hash(0xcd)]);
    assert.deepEqual(ids.select(hash(0xab).toUpperCase()), [hash(0xab)]);
    assert.deepEqual(ids.select([2, 1, 2, hash(0xcd), 7, 'nope']), [hash(0xab), hash(0xcd)]);
    assert.deepEqual(ids.select([]), []);
  });

  it(`remembers removed ids for ${RECENTLY_ACTIVE_MS} ms, at most MAX_REMOVED_IDS of them`, () => {
    const ids = new TransmissionIds();
    ids.sync([hash(1), hash(2)], 0);
    ids.sync([hash(2)], 1_000);
    assert.deepEqual(ids.recentlyRemoved(1_000 + RECENTLY_ACTIVE_MS), [1]);
    assert.deepEqual(ids.recentlyRemoved(1_001 + RECENTLY_ACTIVE_MS), []);
    // Add and remove many more than the cap within the window: the oldest are dropped.
    const many = Array.from({ length: MAX_REMOVED_IDS + 500 }, (_, i) => hash(1000 + i));
    ids.sync(many, 2_000);
    ids.sync([], 2_000);
    assert.equal(ids.removedCount, MAX_REMOVED_IDS);
    const removed = ids.recentlyRemoved(2_000);
    assert.equal(removed.length, MAX_REMOVED_IDS);
    // Ids 2 and 3…1502 were removed (1,501): the last 1,000 are kept.
    assert.equal(removed[0], 1503 - MAX_REMOVED_IDS);
    assert.equal(removed.at(-1), 1502);
    assert.ok(!removed.includes(2), 'the oldest removals went first');
  });
});
