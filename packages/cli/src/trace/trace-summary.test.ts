import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PEER_PID_BASE, THREADS_PID, TorkError, TorkErrorCode, type TraceEvent } from '@tork/core';
import { formatTraceSummary, summarizeTrace } from './trace-summary.js';

const S = 1_000_000;

/** A peer's events: handshake at 0, `pieces` verified evenly over `seconds`, 1 MiB each. */
function peer(
  actorId: number,
  port: number,
  pieces: number[],
  seconds: number,
  extra: { choked?: number; latencyMs?: number } = {},
): TraceEvent[] {
  const pid = PEER_PID_BASE + actorId;
  const events: TraceEvent[] = [
    { ph: 'M', name: 'process_name', ts: 0, pid, tid: 0, args: { name: `peer 127.0.0.1:${port}` } },
    { ph: 'X', name: 'connect + handshake', ts: 0, dur: 1000, pid, tid: 1 },
    {
      ph: 'C',
      name: 'requests',
      ts: S,
      pid,
      tid: 1,
      args: { queueDepth: 8, latencyMs: extra.latencyMs ?? 100, downloaded: 0 },
    },
  ];
  if (extra.choked) events.push({ ph: 'X', name: 'choked', ts: 1000, dur: extra.choked * S, pid, tid: 2 });
  pieces.forEach((index, n) => {
    const id = `${actorId}:${index}`;
    const end = Math.round(((n + 1) * seconds * S) / pieces.length);
    events.push({
      ph: 'b',
      name: `piece ${index}`,
      ts: 1000,
      pid,
      tid: 3,
      id,
      args: { index, result: 'verified', bytes: 1 << 20 },
    });
    events.push({ ph: 'e', name: `piece ${index}`, ts: end, pid, tid: 3, id });
  });
  events.push({
    ph: 'i',
    name: 'disconnect',
    ts: seconds * S + 1000,
    pid,
    tid: 1,
    s: 't',
    args: { reason: 'open at end' },
  });
  return events;
}

function threads(): TraceEvent[] {
  return [
    { ph: 'M', name: 'thread_name', ts: 0, pid: THREADS_PID, tid: 0, args: { name: 'coordinator' } },
    { ph: 'M', name: 'thread_name', ts: 0, pid: THREADS_PID, tid: 1, args: { name: 'peer host 0' } },
    { ph: 'C', name: 'coordinator', ts: S, pid: THREADS_PID, tid: 0, args: { busyPercent: 20, lagMaxMs: 3 } },
    {
      ph: 'C',
      name: 'coordinator',
      ts: 2 * S,
      pid: THREADS_PID,
      tid: 0,
      args: { busyPercent: 40, lagMaxMs: 9 },
    },
    { ph: 'i', name: 'commands → host 0', ts: S, pid: THREADS_PID, tid: 0, s: 't', args: { commands: 3 } },
    {
      ph: 'C',
      name: 'host 0',
      ts: S,
      pid: THREADS_PID,
      tid: 1,
      args: { busyPercent: 10, lagMaxMs: 1, commandQueueMs: 2, commandQueueMaxMs: 7 },
    },
    {
      ph: 'X',
      name: 'events → coordinator',
      ts: S,
      dur: 2000,
      pid: THREADS_PID,
      tid: 1,
      args: { events: 4, queueMs: 2 },
    },
    {
      ph: 'X',
      name: 'events → coordinator',
      ts: 2 * S,
      dur: 4000,
      pid: THREADS_PID,
      tid: 1,
      args: { events: 4, queueMs: 4 },
    },
  ];
}

describe('summarizeTrace', () => {
  // 200 pieces: two fast peers take 99 each in 4 s; the slow one 2 pieces in 10 s, the last of them at the very end.
  const fastA = Array.from({ length: 99 }, (_, i) => i);
  const fastB = Array.from({ length: 99 }, (_, i) => 99 + i);
  const trace = {
    traceEvents: [
      ...threads(),
      ...peer(1, 7001, fastA, 4),
      ...peer(2, 7002, fastB, 4, { latencyMs: 120 }),
      ...peer(3, 7003, [198, 199], 10, { choked: 5, latencyMs: 2000 }),
    ],
    otherData: { droppedEvents: 12 },
  };

  it('names the slow peer first, with why; busy share per thread; the last 1 %', () => {
    const summary = summarizeTrace(trace);
    assert.equal(summary.droppedEvents, 12);
    assert.equal(summary.peers, 3);
    const [slowest, ...rest] = summary.slowestPeers;
    assert.equal(slowest?.name, 'peer 127.0.0.1:7003');
    assert.equal(slowest?.piecesVerified, 2);
    assert.equal(slowest?.chokedSeconds, 5);
    assert.deepEqual(
      slowest?.reasons.map((reason) => reason.split(' (')[0]),
      ['low throughput', 'long request latency', 'choked us 50 % of the time'],
    );
    for (const other of rest) assert.deepEqual(other.reasons, []);
    const [coordinator, host] = summary.threads;
    assert.deepEqual(
      {
        name: coordinator?.name,
        busy: coordinator?.busyPercent,
        max: coordinator?.busyMaxPercent,
        lag: coordinator?.lagMaxMs,
        commands: coordinator?.commandBatches,
      },
      { name: 'coordinator', busy: 30, max: 40, lag: 9, commands: 1 },
    );
    assert.deepEqual(
      {
        batches: host?.eventBatches,
        mean: host?.queueMeanMs,
        max: host?.queueMaxMs,
        commands: host?.commandQueueMaxMs,
      },
      { batches: 2, mean: 3, max: 4, commands: 7 },
    );
    // 99 % of 200 pieces is the 198th, verified at 4 s (the fast peers' last); the tail (the slow
    // peer's 2) ends at 10 s.
    assert.equal(summary.lastPercent?.seconds, 6);
    assert.deepEqual(
      summary.lastPercent?.pieces.map((piece) => [piece.index, piece.peer]),
      [
        [199, 'peer 127.0.0.1:7003'],
        [198, 'peer 127.0.0.1:7003'],
      ],
    );
    const text = formatTraceSummary(summary);
    assert.match(text, /12 older events dropped/);
    assert.match(text, /1\. peer 127\.0\.0\.1:7003: .* low throughput/);
    assert.match(text, /last 1 %: 6 s from 99 % verified to done/);
  });

  it('refuses what is not a trace with TORK_ERR_USAGE', () => {
    for (const bad of [null, {}, { traceEvents: [{ ph: 'X' }] }, { traceEvents: 'no' }]) {
      assert.throws(
        () => summarizeTrace(bad),
        (error: unknown) => error instanceof TorkError && error.code === TorkErrorCode.USAGE,
      );
    }
  });
});
