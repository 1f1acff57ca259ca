import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TorkError, TorkErrorCode } from '../errors.js';
import { MAX_WEB_SEED_URL_LENGTH } from '../webseed/web-seed-limits.js';
import { MAX_PEX_PEERS_PER_MESSAGE } from '../wire/ut-pex.js';
import { MAX_HASH_JOB_PIECES } from './hash-job.js';
import { MAX_TORRENT_PEERS } from './host-command.js';
import {
  MAX_EVENTS_PER_BATCH,
  parseHashJob,
  parseHashJobResult,
  parseHostCommandBatch,
  parseHostEventBatch,
  parseHostEvents,
  parseHostStats,
  parsePeerHostWorkerData,
  parsePlainError,
} from './validate.js';

const rejects = (fn: () => unknown, where: RegExp) =>
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof TorkError);
    assert.equal(error.code, TorkErrorCode.THREAD_MESSAGE);
    assert.match(error.message, where);
    return true;
  });

describe('thread message schemas', () => {
  it('accepts well-formed batches', () => {
    const data = new ArrayBuffer(16);
    const events = parseHostEventBatch({ events: [{ type: 'piece', actorId: 1, index: 0, data }] });
    const first = events.events[0];
    assert.ok(first?.type === 'piece');
    assert.equal(first.data, data, 'the ArrayBuffer is passed through, not copied');
    parseHostCommandBatch({ commands: [{ type: 'assign', actorId: 3, pieces: [1, 2] }] });
  });

  it('rejects malformed batches with the path of the fault', () => {
    rejects(
      () => parseHostCommandBatch({ commands: [{ type: 'assign', actorId: -1, pieces: [1] }] }),
      /commands\.0\.actorId/,
    );
    rejects(() => parseHostCommandBatch({ commands: [{ type: 'format-disk' }] }), /commands\.0/);
    rejects(
      () => parseHostEventBatch({ events: [{ type: 'piece', actorId: 1, index: 0, data: 'x' }] }),
      /data/,
    );
    rejects(
      () => parseHostEventBatch({ events: [{ type: 'connected', actorId: 1, peerId: 'zz' }] }),
      /events\.0/,
    );
    rejects(() => parseHostEventBatch(null), /root/);
  });

  it('checks web-seed commands: URL within MAX_WEB_SEED_URL_LENGTH, file lengths non-negative', () => {
    const torrentId = 'ab'.repeat(20);
    const good = {
      type: 'web-seed',
      actorId: 3,
      torrentId,
      url: 'http://127.0.0.1/x',
      files: [{ url: null, length: 0 }],
    };
    assert.equal(parseHostCommandBatch({ commands: [good] }).commands.length, 1);
    rejects(
      () =>
        parseHostCommandBatch({
          commands: [{ ...good, url: `http://h/${'a'.repeat(MAX_WEB_SEED_URL_LENGTH)}` }],
        }),
      /url/,
    );
    rejects(
      () => parseHostCommandBatch({ commands: [{ ...good, files: [{ url: 'http://h/a', length: -1 }] }] }),
      /length/,
    );
  });

  it('checks peer exchange messages: IP literals only, within their caps', () => {
    const peer = { host: '10.0.0.1', port: 6881, flags: 0x10 };
    parseHostEventBatch({ events: [{ type: 'pex-peers', actorId: 1, added: [peer], dropped: [] }] });
    rejects(
      () =>
        parseHostEventBatch({
          events: [
            { type: 'pex-peers', actorId: 1, added: [{ ...peer, host: 'evil.example' }], dropped: [] },
          ],
        }),
      /events\.0\.added\.0\.host: expected an IP address/,
    );
    const many = Array.from({ length: MAX_PEX_PEERS_PER_MESSAGE + 1 }, () => peer);
    rejects(
      () => parseHostEventBatch({ events: [{ type: 'pex-peers', actorId: 1, added: many, dropped: [] }] }),
      /events\.0\.added/,
    );
    const torrentId = 'ab'.repeat(20);
    const swarm = { actorId: 2, ...peer };
    parseHostCommandBatch({ commands: [{ type: 'torrent-peers', torrentId, peers: [swarm] }] });
    rejects(
      () =>
        parseHostCommandBatch({
          commands: [{ type: 'torrent-peers', torrentId, peers: [{ ...swarm, host: 'fe80::1%eth0' }] }],
        }),
      /commands\.0\.peers\.0\.host/,
    );
    rejects(
      () =>
        parseHostCommandBatch({
          commands: [
            {
              type: 'torrent-peers',
              torrentId,
              peers: Array.from({ length: MAX_TORRENT_PEERS + 1 }, () => swarm),
            },
          ],
        }),
      /commands\.0\.peers/,
    );
  });

  it('report-stats: a torrent and a whole number of milliseconds, at most an hour', () => {
    const torrentId = 'ab'.repeat(20);
    parseHostCommandBatch({ commands: [{ type: 'report-stats', torrentId, intervalMs: 1_000 }] });
    for (const intervalMs of [0, -1, 0.5, 3_600_001, Number.NaN, '1000'])
      rejects(
        () => parseHostCommandBatch({ commands: [{ type: 'report-stats', torrentId, intervalMs }] }),
        /commands\.0\.intervalMs/,
      );
    rejects(
      () =>
        parseHostCommandBatch({ commands: [{ type: 'report-stats', torrentId: 'xy', intervalMs: 1_000 }] }),
      /commands\.0\.torrentId/,
    );
  });

  it('keeps the good events of a batch with a malformed one, the verified piece included', () => {
    const data = new ArrayBuffer(32);
    const { events, rejected } = parseHostEvents({
      events: [
        { type: 'piece', actorId: 1, index: 3, data },
        { type: 'choke', actorId: 'two', choked: true },
        { type: 'closed', actorId: 4, error: { code: 'TORK_ERR_IO', message: 'gone', details: {} } },
      ],
    });
    assert.deepEqual(
      events.map((event) => event.type),
      ['piece', 'closed'],
    );
    assert.equal((events[0] as { data: ArrayBuffer }).data, data);
    assert.equal(rejected.length, 1);
    assert.equal(rejected[0]!.code, TorkErrorCode.THREAD_MESSAGE);
    assert.match(rejected[0]!.message, /events\.1\.actorId/);
    rejects(() => parseHostEvents({ events: 'all of them' }), /events/);
    assert.throws(
      () => parseHostEvents({ events: new Array(MAX_EVENTS_PER_BATCH + 1).fill({ type: 'choke' }) }),
      (error: unknown) => error instanceof TorkError && error.details.limit === MAX_EVENTS_PER_BATCH,
    );
    rejects(() => parseHostEvents(null), /events/);
  });

  it('checks hash jobs and their results', () => {
    const job = {
      pieces: [
        [
          { path: '/data/a', offset: 0, length: 16 },
          { path: null, offset: 0, length: 4 },
        ],
      ],
    };
    assert.deepEqual(parseHashJob(job), job);
    rejects(() => parseHashJob({ pieces: [[{ path: '/a', offset: -1, length: 1 }]] }), /offset/);
    rejects(() => parseHashJob({ pieces: [[{ path: '', offset: 0, length: 1 }]] }), /path/);
    rejects(() => parseHashJob({ pieces: new Array(MAX_HASH_JOB_PIECES + 1).fill([]) }), /pieces/);
    const hashes = new ArrayBuffer(20);
    const ok = parseHashJobResult({ ok: true, hashes, missing: [0] });
    assert.ok(ok.ok && ok.hashes === hashes);
    parseHashJobResult({
      ok: false,
      error: { code: 'TORK_ERR_IO', message: 'disk gone', details: { cause: 'EIO' } },
    });
    rejects(() => parseHashJobResult({ ok: true, hashes: new Uint8Array(20), missing: [] }), /hashes/);
    rejects(
      () => parseHashJobResult({ ok: false, error: { code: 'EIO', message: 'x', details: {} } }),
      /code/,
    );
  });

  it("checks a peer host thread's workerData: numbers and flags only, no unknown keys", () => {
    assert.deepEqual(parsePeerHostWorkerData(undefined), {});
    const data = {
      index: 1,
      options: { tickMs: 100, actor: { connectTimeoutMs: 500, rate: { windowMs: 2000 } } },
    };
    assert.deepEqual(parsePeerHostWorkerData(data), data);
    rejects(() => parsePeerHostWorkerData({ options: { tickMs: -1 } }), /tickMs/);
    rejects(() => parsePeerHostWorkerData({ options: { reader: { fs: {} } } }), /reader/);
    rejects(() => parsePeerHostWorkerData({ options: { actors: {} } }), /options/);
  });

  it("checks a host's stats and error reports", () => {
    const stats = {
      actors: 2,
      torrents: 1,
      bytesReceived: 10,
      bytesSent: 0,
      eventLoopLagMs: 0.5,
      eventLoopLagMaxMs: 3,
      rejectedBatches: 0,
      lastRejection: null,
      bufferPoolBytes: 0,
      buffersReused: 0,
      buffersAllocated: 1,
    };
    assert.deepEqual(parseHostStats(stats), stats);
    rejects(() => parseHostStats({ ...stats, actors: -1 }), /actors/);
    parsePlainError({ code: 'TORK_ERR_INTERNAL', message: 'bug', details: { host: 1 } });
    rejects(() => parsePlainError({ code: 'TORK_ERR_NOPE', message: 'x', details: {} }), /code/);
    rejects(() => parsePlainError({ code: 'TORK_ERR_IO', message: 'x', details: { nested: {} } }), /details/);
  });
});
