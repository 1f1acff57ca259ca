import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ScriptedActorSystem } from '@tork/testkit';
import type { HostCommand } from '../messages/host-command.js';
import type { HostEvent } from '../messages/host-event.js';
import { PEER_PID_BASE, TraceRecorder } from './trace-recorder.js';
import { TracingActorSystem } from './tracing-actor-system.js';

const torrentId = 'aa'.repeat(20);
const error = { code: 'TORK_ERR_IO' as const, message: 'peer went away', details: {} };

function addTorrent(): HostCommand {
  return {
    type: 'add-torrent',
    torrentId,
    infoHash: new Uint8Array(20),
    peerId: new Uint8Array(20),
    pieceLength: 1000,
    length: 2500,
    pieceHashes: new Uint8Array(60),
    bitfield: new Uint8Array(1),
  } as unknown as HostCommand;
}

function connected(actorId: number): HostEvent {
  return {
    type: 'connected',
    actorId,
    peerId: 'ab'.repeat(20),
    client: 'libtorrent 2.0.8',
    fastExtension: true,
    extensionProtocol: true,
  };
}

describe('TracingActorSystem', () => {
  it('passes commands and events through and records peers, pieces, endgame copies and disconnects', async () => {
    const inner = new ScriptedActorSystem();
    const trace = new TraceRecorder();
    const tracing = new TracingActorSystem(inner, trace);
    const seen: HostEvent[] = [];
    tracing.onEvents((events) => seen.push(...events));
    const commands: HostCommand[] = [
      addTorrent(),
      { type: 'connect', actorId: 1, torrentId, host: '127.0.0.1', port: 7001 },
      { type: 'connect', actorId: 2, torrentId, host: '127.0.0.1', port: 7002 },
    ];
    tracing.send(commands);
    assert.deepEqual(inner.commands, commands);
    inner.emit(connected(1), connected(2), { type: 'choke', actorId: 1, choked: false });
    tracing.send([
      { type: 'assign', actorId: 1, pieces: [0, 2] },
      { type: 'assign', actorId: 2, pieces: [2] },
    ]);
    // Piece 0 (1,000 bytes) and the short last piece 2 (500 bytes), counted once though two peers fetch it.
    assert.equal(tracing.bytesInFlight, 1500);
    inner.emit(
      { type: 'piece', actorId: 2, index: 2, data: new ArrayBuffer(500) },
      { type: 'released', actorId: 1, pieces: [0], reason: 'choked' },
    );
    tracing.send([{ type: 'unassign', actorId: 1, pieces: [2] }]);
    assert.equal(tracing.bytesInFlight, 0);
    inner.emit({ type: 'closed', actorId: 1, error });
    assert.equal(seen.length, 6);
    await tracing.close();

    const events = trace.toJSON().traceEvents;
    const peer1 = PEER_PID_BASE + 1;
    const peer2 = PEER_PID_BASE + 2;
    const names = events.filter((e) => e.ph === 'M' && e.name === 'process_name').map((e) => e.args?.name);
    assert.ok(names.includes('peer 127.0.0.1:7001 libtorrent 2.0.8'), JSON.stringify(names));
    assert.ok(events.some((e) => e.pid === peer1 && e.ph === 'X' && e.name === 'connect + handshake'));
    // Peer 1 was choked from its handshake until its unchoke; peer 2 until the trace ended.
    assert.equal(events.filter((e) => e.ph === 'X' && e.name === 'choked').length, 2);
    const pieces = events.filter((e) => e.ph === 'b');
    const result = (pid: number, index: number) =>
      pieces.find((e) => e.pid === pid && e.args?.index === index)?.args;
    assert.deepEqual(result(peer2, 2), {
      index: 2,
      result: 'verified',
      bytes: 500,
      endgame: true,
      won: true,
    });
    assert.deepEqual(result(peer1, 2), {
      index: 2,
      result: 'cancelled',
      bytes: 500,
      endgame: true,
      won: false,
      winner: 2,
    });
    assert.equal(result(peer1, 0)?.result, 'released (choked)');
    assert.equal(events.filter((e) => e.ph === 'e').length, pieces.length);
    const disconnects = events.filter((e) => e.name === 'disconnect');
    assert.deepEqual(
      disconnects.map((e) => [e.pid, e.args?.reason]),
      [
        [peer1, 'TORK_ERR_IO: peer went away'],
        [peer2, 'open at end'],
      ],
    );
  });

  it('turns stats into rate and request counters, and snub spans', () => {
    const inner = new ScriptedActorSystem();
    const trace = new TraceRecorder();
    const tracing = new TracingActorSystem(inner, trace);
    tracing.onEvents(() => {});
    tracing.send([addTorrent(), { type: 'connect', actorId: 1, torrentId, host: '127.0.0.1', port: 7001 }]);
    const stats = (snubbed: boolean) =>
      ({
        type: 'stats',
        actors: [
          {
            actorId: 1,
            downloaded: 32768,
            uploaded: 0,
            downloadRate: 16384,
            uploadRate: 0,
            queueDepth: 4,
            targetQueueDepth: 4,
            peerChoking: false,
            amInterested: true,
            amChoking: true,
            peerInterested: false,
            snubbed,
            requestsQueued: 0,
            requestsRefused: 0,
            uploadStalled: false,
          },
        ],
      }) as HostEvent;
    inner.emit(connected(1), stats(true));
    inner.emit(stats(false));
    const events = trace.toJSON().traceEvents;
    const requests = events.find((e) => e.ph === 'C' && e.name === 'requests');
    // 4 blocks of 16 KiB outstanding at 16 KiB/s: a request waits about 4 s.
    assert.deepEqual(requests?.args, { queueDepth: 4, latencyMs: 4000, downloaded: 32768 });
    assert.ok(events.some((e) => e.ph === 'X' && e.name === 'snubbed'));
  });
});
