import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TorkError, TorkErrorCode } from '../errors.js';
import { createTrackerClient } from './create-tracker-client.js';
import { HttpTrackerClient } from './http-client.js';
import { TierList, type TrackerFailure } from './tier-list.js';
import type { AnnounceRequest, AnnounceResponse, TrackerClient } from './types.js';
import { UdpTrackerClient } from './udp-client.js';

const request: AnnounceRequest = {
  infoHash: new Uint8Array(20),
  peerId: new Uint8Array(20),
  port: 1,
  uploaded: 0,
  downloaded: 0,
  left: 0,
  event: 'none',
};

/** Fake trackers: `behaviour[url]` is an error to throw or undefined to answer; calls are logged. */
function fakes(behaviour: Record<string, TorkError | Error | undefined>) {
  const calls: string[] = [];
  const created: string[] = [];
  const clientFor = (url: string): TrackerClient => {
    created.push(url);
    return {
      url,
      announce: async (): Promise<AnnounceResponse> => {
        calls.push(url);
        const outcome = behaviour[url];
        if (outcome) throw outcome;
        return { interval: 60, peers: [{ host: '10.0.0.1', port: url.length }] };
      },
    };
  };
  return { calls, created, clientFor };
}

const down = (url: string): TorkError =>
  new TorkError(TorkErrorCode.TRACKER_TIMEOUT, `UDP tracker ${url} did not answer after 9 sends`);
/** A random source that keeps every tier in its given order. */
const keepOrder = (): number => 0.999999;

describe('TierList', () => {
  it('shuffles each tier once, with the injected random source', () => {
    const tiers = [['a', 'b', 'c'], ['d']];
    assert.deepEqual(new TierList(tiers, { random: keepOrder }).tiers, tiers);
    // Fisher–Yates with j = 0 every step: [a,b,c] → [c,b,a] → [b,c,a].
    const shuffled = new TierList(tiers, { random: () => 0 });
    assert.deepEqual(shuffled.tiers, [['b', 'c', 'a'], ['d']]);
    assert.deepEqual(tiers, [['a', 'b', 'c'], ['d']], 'the caller array is not touched');
  });

  it('drops empty tiers and repeated URLs', () => {
    const list = new TierList([[], ['a', 'b', 'a'], ['b', 'c'], []], { random: keepOrder });
    assert.deepEqual(list.tiers, [['a', 'b'], ['c']]);
  });

  it('moves a tracker that answers to the front of its tier and starts from tier 0 each time', async () => {
    const fake = fakes({ 'udp://a': down('a'), 'udp://c': down('c') });
    const list = new TierList([['udp://a', 'udp://b', 'udp://c']], {
      random: keepOrder,
      clientFor: fake.clientFor,
    });
    const result = await list.announce(request);
    assert.equal(result.url, 'udp://b');
    assert.deepEqual(result.response.peers, [{ host: '10.0.0.1', port: 7 }]);
    assert.deepEqual(list.tiers, [['udp://b', 'udp://a', 'udp://c']]);
    await list.announce(request);
    assert.deepEqual(fake.calls, ['udp://a', 'udp://b', 'udp://b']);
    assert.deepEqual(fake.created, ['udp://a', 'udp://b'], 'one client per URL, made on first use');
  });

  it('tries the next tier only when a whole tier fails', async () => {
    const fake = fakes({ 'http://a': down('a'), 'http://b': new Error('socket exploded') });
    const list = new TierList(
      [
        ['http://a', 'http://b'],
        ['http://c', 'http://d'],
      ],
      {
        random: keepOrder,
        clientFor: fake.clientFor,
      },
    );
    const result = await list.announce(request);
    assert.equal(result.url, 'http://c');
    assert.deepEqual(fake.calls, ['http://a', 'http://b', 'http://c']);
    assert.deepEqual(
      list.tiers,
      [
        ['http://a', 'http://b'],
        ['http://c', 'http://d'],
      ],
      'c was already first',
    );
  });

  it('throws TRACKER_ALL_FAILED with every reason when all fail', async () => {
    const fake = fakes({
      'udp://a': down('udp://a'),
      'http://b/announce?passkey=secret': new TorkError(
        TorkErrorCode.TRACKER_FAILURE,
        'tracker refused: unregistered',
      ),
    });
    const list = new TierList([['udp://a'], ['http://b/announce?passkey=secret', 'wss://c']], {
      random: keepOrder,
      clientFor: (url) => (url.startsWith('wss:') ? createTrackerClient(url) : fake.clientFor(url)),
    });
    await assert.rejects(list.announce(request), (error: unknown) => {
      assert.ok(error instanceof TorkError);
      assert.equal(error.code, TorkErrorCode.TRACKER_ALL_FAILED);
      assert.match(error.message, /^all 3 trackers failed: /);
      assert.match(error.message, /udp:\/\/a.*did not answer/);
      assert.match(error.message, /unregistered/);
      assert.match(error.message, /unsupported tracker scheme 'wss:'/);
      assert.doesNotMatch(error.message, /secret/);
      const failures = JSON.parse(String(error.details.failures)) as TrackerFailure[];
      assert.deepEqual(
        failures.map((f) => [f.url, f.code]),
        [
          ['udp://a', TorkErrorCode.TRACKER_TIMEOUT],
          ['http://b/announce', TorkErrorCode.TRACKER_FAILURE],
          ['wss://c/', TorkErrorCode.TRACKER_URL],
        ],
      );
      assert.equal(error.details.trackers, 3);
      return true;
    });
  });

  it('says so when there is no tracker at all', async () => {
    await assert.rejects(new TierList([[]]).announce(request), /no trackers/);
  });

  it('stops at once on abort or a bad request', async () => {
    const aborted = new TorkError(TorkErrorCode.ABORTED, 'tracker request aborted');
    const fake = fakes({ 'udp://a': aborted });
    const list = new TierList([['udp://a', 'udp://b']], { random: keepOrder, clientFor: fake.clientFor });
    await assert.rejects(list.announce(request), (error) => error === aborted);
    assert.deepEqual(fake.calls, ['udp://a']);

    const controller = new AbortController();
    controller.abort();
    await assert.rejects(list.announce(request, controller.signal), (error: unknown) => {
      assert.ok(error instanceof TorkError && error.code === TorkErrorCode.ABORTED);
      return true;
    });
    assert.deepEqual(fake.calls, ['udp://a']);

    const usage = fakes({ 'udp://a': new TorkError(TorkErrorCode.USAGE, 'infoHash must be 20 bytes') });
    const strict = new TierList([['udp://a', 'udp://b']], { random: keepOrder, clientFor: usage.clientFor });
    await assert.rejects(strict.announce(request), /infoHash/);
    assert.deepEqual(usage.calls, ['udp://a']);
  });

  it('closes the clients it made', async () => {
    let closed = 0;
    const list = new TierList([['udp://a']], {
      clientFor: (url) => ({
        url,
        announce: async () => ({ interval: 1, peers: [] }),
        close: () => {
          closed++;
        },
      }),
    });
    await list.announce(request);
    list.close();
    assert.equal(closed, 1);
  });
});

describe('createTrackerClient', () => {
  it('chooses the client by scheme', () => {
    assert.ok(createTrackerClient('udp://tracker.example:6969/announce') instanceof UdpTrackerClient);
    assert.ok(createTrackerClient('http://tracker.example/announce') instanceof HttpTrackerClient);
    assert.ok(createTrackerClient('https://tracker.example/announce') instanceof HttpTrackerClient);
  });

  it('refuses unknown schemes and malformed URLs with TRACKER_URL', () => {
    for (const url of [
      'wss://tracker.example',
      'ftp://x/announce',
      'tracker.example:80',
      '',
      'udp://no-port/announce',
    ]) {
      assert.throws(
        () => createTrackerClient(url),
        (error: unknown) => error instanceof TorkError && error.code === TorkErrorCode.TRACKER_URL,
        url,
      );
    }
  });
});
