/**
 * PeerPieces' `have` events: reported at the end of the turn while we still lack pieces; held for
 * the host's tick while we have every piece (a seeder's coordinator need not wake for each piece a
 * downloader announces), except the peer's last piece, and never lost at close.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Bitfield } from '@tork/core';
import type { HostEvent } from '@tork/core/internal/messages/host-event.js';
import type { ActorTorrent } from '../actor-torrent.js';
import { BufferPool } from '../buffer-pool.js';
import type { PeerLink } from '../peer-link.js';
import { WireWriter } from '../wire-writer.js';
import { PeerPieces } from './peer-pieces.js';

const PIECES = 10;

function piecesWith(weHave: number): { pieces: PeerPieces; events: HostEvent[]; scheduled: () => number } {
  const have = new Bitfield(PIECES);
  for (let i = 0; i < weHave; i++) have.set(i);
  const torrent = { pieceCount: PIECES, have } as unknown as ActorTorrent;
  const events: HostEvent[] = [];
  let schedules = 0;
  const link: PeerLink = {
    id: 7,
    torrent,
    writer: new WireWriter(),
    buffers: new BufferPool(0),
    open: true,
    fast: true,
    unsent: 0,
    emit: (event) => events.push(event),
    packPiece: () => {},
    schedule: () => {
      schedules++;
    },
  };
  return { pieces: new PeerPieces(link), events, scheduled: () => schedules };
}

const haves = (events: HostEvent[]): number[][] =>
  events.flatMap((event) => (event.type === 'have' ? [[...event.pieces]] : []));

describe('PeerPieces: have events', () => {
  it('while we lack pieces: each turn’s haves leave at the end of the turn', () => {
    const { pieces, events, scheduled } = piecesWith(PIECES - 1);
    assert.equal(pieces.onHave(2), true);
    assert.equal(pieces.onHave(3), true);
    assert.ok(scheduled() > 0, 'the session is scheduled for the end of the turn');
    pieces.flush();
    assert.deepEqual(haves(events), [[2, 3]]);
    assert.equal(pieces.onHave(3), false, 'a redundant have');
    pieces.flush();
    assert.deepEqual(haves(events), [[2, 3]]);
  });

  it('while we have every piece: haves wait for the tick, and leave together', () => {
    const { pieces, events, scheduled } = piecesWith(PIECES);
    for (const index of [1, 4, 6]) pieces.onHave(index);
    assert.equal(scheduled(), 0, 'nothing to do at the end of the turn');
    pieces.flush();
    pieces.flush();
    assert.deepEqual(haves(events), []);
    pieces.drain(); // the host's tick
    assert.deepEqual(haves(events), [[1, 4, 6]]);
    pieces.drain();
    assert.deepEqual(haves(events), [[1, 4, 6]], 'nothing twice');
  });

  it("while we have every piece: the peer's last piece leaves at the end of the turn", () => {
    const { pieces, events, scheduled } = piecesWith(PIECES);
    for (let i = 0; i < PIECES - 1; i++) pieces.onHave(i);
    pieces.flush();
    assert.deepEqual(haves(events), []);
    pieces.onHave(PIECES - 1);
    assert.ok(scheduled() > 0);
    pieces.flush();
    assert.deepEqual(haves(events), [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]], 'all of them, the held ones first');
  });

  it('drain (the tick, the close) sends what was held; clear (the host shutting down) drops it', () => {
    const { pieces, events } = piecesWith(PIECES);
    pieces.onHave(5);
    pieces.flush();
    pieces.drain();
    pieces.onHave(8);
    pieces.clear();
    pieces.drain();
    assert.deepEqual(haves(events), [[5]]);
  });
});
