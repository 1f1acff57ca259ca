import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StartupWatch, startupLines, startupMedians } from './startup-times.js';

describe('bench start-up times', () => {
  it("reads tork's startup event across chunk boundaries, and libtorrent's done line", () => {
    const tork = new StartupWatch();
    const line = `${JSON.stringify({ event: 'startup', time: 1, firstPeerMs: 420.5, firstPieceMs: 510 })}\n`;
    tork.feed('{"event":"listening","port":1}\n');
    tork.feed(line.slice(0, 20));
    tork.feed(line.slice(20));
    // A later startup-looking line does not replace the first figures.
    tork.feed(`${JSON.stringify({ event: 'startup', firstPeerMs: 1, firstPieceMs: 2 })}\n`);
    assert.deepEqual(tork.figures(), { firstPeerMs: 420.5, firstPieceMs: 510 });

    const libtorrent = new StartupWatch();
    libtorrent.feed(
      `${JSON.stringify({ event: 'done', seconds: 1, startup: { firstPeerMs: 150, firstPieceMs: 190 } })}\n`,
    );
    assert.deepEqual(libtorrent.figures(), { firstPeerMs: 150, firstPieceMs: 190 });

    const silent = new StartupWatch();
    silent.feed('not json "startup"\n{"event":"done"}\n');
    assert.deepEqual(silent.figures(), { firstPeerMs: null, firstPieceMs: null });
  });

  it('takes medians per group, leaving out runs without a figure', () => {
    const runs = [
      { group: 'tork', firstPeerMs: 300, firstPieceMs: 400 },
      { group: 'tork', firstPeerMs: 100, firstPieceMs: null },
      { group: 'tork', firstPeerMs: 200, firstPieceMs: 600 },
      { group: 'aria2c', firstPeerMs: null, firstPieceMs: null },
    ];
    assert.deepEqual(startupMedians(runs), [
      { group: 'tork', runs: 3, firstPeerMs: 200, firstPieceMs: 500 },
      { group: 'aria2c', runs: 1, firstPeerMs: null, firstPieceMs: null },
    ]);
    const lines = startupLines(runs);
    assert.ok(
      lines.some((line) => line.startsWith('tork (3)') && line.includes('200') && line.includes('500')),
    );
    // A client that prints no start-up times gets no line.
    assert.ok(!lines.some((line) => line.startsWith('aria2c')));
  });
});
