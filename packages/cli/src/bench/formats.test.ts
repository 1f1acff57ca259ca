import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeTorrentV2, FileMerkleBuilder, parseMetainfo } from '@tork/core';
import { withAnnounce } from './formats.js';

/** A v2-only torrent of one 3-piece file: its `piece layers` key is a raw 32-byte root. */
function v2Torrent(): Uint8Array {
  const pieceLength = 32_768;
  const data = new Uint8Array(3 * pieceLength - 100).map((_, i) => (i * 7 + 200) & 0xff);
  const builder = new FileMerkleBuilder(pieceLength);
  builder.update(data);
  const { root, pieceLayer } = builder.digest();
  return encodeTorrentV2({
    name: 'set',
    pieceLength,
    announce: [['http://127.0.0.1:1/announce']],
    files: [{ path: ['a.bin'], length: data.length }],
    version: 'v2',
    fileHashes: [{ piecesRoot: root!, pieceLayer: pieceLayer! }],
  });
}

describe('withAnnounce', () => {
  it('replaces the trackers of a v2 torrent and keeps its info-hash and piece layers byte for byte', () => {
    const before = v2Torrent();
    const after = withAnnounce(before, 'http://127.0.0.1:4242/announce');
    const a = parseMetainfo(before);
    const b = parseMetainfo(after);
    assert.equal(b.infoHashHex, a.infoHashHex);
    assert.equal(b.infoHashV2Hex, a.infoHashV2Hex);
    assert.deepEqual(b.announce, [['http://127.0.0.1:4242/announce']]);
    assert.equal(b.v2?.hasPieceLayers, true);
    assert.deepEqual([...b.v2!.pieceLayers.entries()], [...a.v2!.pieceLayers.entries()]);
    // Canonical: the result rewritten again is the same bytes.
    assert.deepEqual(withAnnounce(after, 'http://127.0.0.1:4242/announce'), after);
  });
});
