/**
 * The Uploader alone, with a scripted peer link and reader: when blocks are served, in what order,
 * and that no request is left waiting for an event that may never come (on a direct socket, a
 * drain comes only after a full send buffer; the relay's acks hid a lost wake-up).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Bitfield, WireMessageId } from '@tork/core';
import type { ActorTorrent, BlockReader } from '../actor-torrent.js';
import { BufferPool } from '../buffer-pool.js';
import type { PeerLink } from '../peer-link.js';
import { RateAllowance } from '../rate-allowance.js';
import { WireWriter } from '../wire-writer.js';
import { UPLOAD_READ_AHEAD_BYTES, Uploader } from './uploader.js';

const PIECE = 64 * 1024;
const BLOCK = 16 * 1024;
const PIECES = 4;

/** Piece `index`'s bytes: each byte is the piece index plus its offset, so blocks tell apart. */
function pieceBytes(index: number): Uint8Array {
  return new Uint8Array(PIECE).map((_, i) => (index * 31 + i) & 0xff);
}

/** Pieces in `cached` answer at once; the others wait for `release(index)` (a disk read). */
class ScriptedReader implements BlockReader {
  readonly cached = new Set<number>();
  readonly reads: number[] = [];
  readonly prefetched: number[] = [];

  prefetch(index: number): void {
    this.prefetched.push(index);
  }
  readonly #waiting = new Map<number, () => void>();

  cachedBlock(index: number, begin: number, length: number): Uint8Array | undefined {
    return this.cached.has(index) ? pieceBytes(index).subarray(begin, begin + length) : undefined;
  }

  readBlock(index: number, begin: number, length: number): Promise<Uint8Array> {
    this.reads.push(index);
    return new Promise((resolve) => {
      this.#waiting.set(index, () => {
        this.cached.add(index);
        resolve(pieceBytes(index).subarray(begin, begin + length));
      });
    });
  }

  release(index: number): void {
    const done = this.#waiting.get(index);
    assert.ok(done, `no read of piece ${index} is waiting`);
    this.#waiting.delete(index);
    done();
  }
}

function uploaderWith(
  reader: BlockReader,
  pieceLength = PIECE,
  pieces = PIECES,
): { uploader: Uploader; writer: WireWriter } {
  const writer = new WireWriter();
  const have = new Bitfield(pieces);
  for (let i = 0; i < pieces; i++) have.set(i);
  const torrent = {
    pieceLength,
    length: pieceLength * pieces,
    pieceCount: pieces,
    have,
    reader,
    rates: new RateAllowance(() => {}),
  } as unknown as ActorTorrent;
  const link: PeerLink = {
    id: 1,
    torrent,
    writer,
    buffers: new BufferPool(0),
    open: true,
    fast: true,
    get unsent() {
      return writer.size;
    },
    emit: () => {},
    packPiece: () => {},
    schedule: () => {},
  };
  const uploader = new Uploader(link, performance.now());
  uploader.choke(false);
  writer.take(); // the unchoke
  return { uploader, writer };
}

/** The piece messages queued in the writer, as `index:begin`, checking each block's bytes. */
function servedBlocks(writer: WireWriter): string[] {
  const bytes = Buffer.concat(writer.take().chunks);
  const served: string[] = [];
  for (let at = 0; at < bytes.length; ) {
    const length = bytes.readUInt32BE(at);
    assert.equal(bytes[at + 4], WireMessageId.piece);
    const index = bytes.readUInt32BE(at + 5);
    const begin = bytes.readUInt32BE(at + 9);
    const block = bytes.subarray(at + 13, at + 4 + length);
    assert.deepEqual(new Uint8Array(block), pieceBytes(index).subarray(begin, begin + block.length));
    served.push(`${index}:${begin}`);
    at += 4 + length;
  }
  return served;
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('Uploader', () => {
  it('serves a request for a cached piece as it arrives, in the same turn, each of a burst', () => {
    const reader = new ScriptedReader();
    reader.cached.add(0);
    const { uploader, writer } = uploaderWith(reader);
    // A burst decoded from one chunk: every request is served before the next is read.
    for (let begin = 0; begin < PIECE; begin += BLOCK) {
      uploader.onRequest(0, begin, BLOCK);
      assert.equal(uploader.queued, 0, `request ${begin} served at once`);
    }
    assert.deepEqual(servedBlocks(writer), ['0:0', '0:16384', '0:32768', '0:49152']);
    assert.equal(uploader.uploaded, PIECE);
    assert.deepEqual(reader.reads, [], 'no disk read for a cached piece');
  });

  it('serves in request order around a disk read, and a request right after the read is served without another wake-up', async () => {
    const reader = new ScriptedReader();
    reader.cached.add(0);
    const { uploader, writer } = uploaderWith(reader);
    uploader.onRequest(2, 0, BLOCK); // not cached: waits for the disk
    uploader.onRequest(0, 0, BLOCK); // cached, but queued behind it
    uploader.onRequest(2, BLOCK, BLOCK);
    assert.deepEqual(servedBlocks(writer), [], 'nothing overtakes the read');
    assert.deepEqual(reader.reads, [2]);
    reader.release(2);
    await turn();
    assert.deepEqual(servedBlocks(writer), ['2:0', '0:0', '2:16384']);
    // Nothing is served any more: a new request must be taken up by itself (no drain, flush or
    // tick is coming: the scripted link never calls back).
    uploader.onRequest(0, BLOCK, BLOCK);
    uploader.onRequest(3, 0, BLOCK);
    uploader.onRequest(2, 2 * BLOCK, BLOCK);
    assert.deepEqual(servedBlocks(writer), ['0:16384']);
    reader.release(3);
    await turn();
    assert.deepEqual(servedBlocks(writer), ['3:0', '2:32768']);
    assert.equal(uploader.queued, 0);
  });

  it('pauses at the high-water mark and goes on when serve is called again (the drain)', () => {
    const reader = new ScriptedReader();
    for (let i = 0; i < PIECES; i++) reader.cached.add(i);
    const { uploader, writer } = uploaderWith(reader);
    // The default high-water mark, 1 MiB, is reached after 64 messages of a 16 KiB block.
    const requests = PIECES * (PIECE / BLOCK);
    for (let r = 0; r < 8; r++)
      for (let i = 0; i < requests; i++)
        uploader.onRequest(i % PIECES, Math.floor(i / PIECES) * BLOCK, BLOCK);
    const total = 8 * requests;
    const first = servedBlocks(writer).length;
    assert.equal(first, 64, `paused at the mark: ${first} of ${total} served`);
    assert.equal(uploader.queued, total - first);
    let served = first;
    for (let drains = 0; uploader.queued > 0 && drains < 10; drains++) {
      uploader.serve();
      served += servedBlocks(writer).length;
    }
    assert.equal(served, total);
  });

  it('while a block waits for the disk, reads ahead the pieces of the requests of the same burst behind it, up to UPLOAD_READ_AHEAD_BYTES', async () => {
    const reader = new ScriptedReader();
    const { uploader } = uploaderWith(reader, 16 * 1024, 200);
    // Two blocks of piece 5, then pieces 6, 7, 7, 8…: distinct pieces, each once.
    for (const index of [5, 5, 6, 7, 7, ...Array.from({ length: 100 }, (_, i) => 8 + i)])
      uploader.onRequest(index, 0, 8 * 1024);
    assert.deepEqual(reader.reads, [5], 'the first block read at once, ahead of all');
    assert.deepEqual(reader.prefetched, [], 'the rest of the burst not decoded yet');
    await turn();
    // 1 MiB of 16 KiB pieces with the one being read: the next 63.
    const ahead = Array.from({ length: UPLOAD_READ_AHEAD_BYTES / (16 * 1024) - 1 }, (_, i) => 6 + i);
    assert.deepEqual(reader.prefetched, ahead);
  });

  it('reads nothing ahead for pieces of 1 MiB (one read carries 64 blocks already)', async () => {
    const reader = new ScriptedReader();
    const { uploader } = uploaderWith(reader, 1024 * 1024, 4);
    for (let index = 0; index < 4; index++) uploader.onRequest(index, 0, BLOCK);
    await turn();
    assert.deepEqual(reader.reads, [0]);
    assert.deepEqual(reader.prefetched, []);
  });

  it('serves again after a read of the cache threw (the flag is not left set)', () => {
    const reader = new ScriptedReader();
    reader.cached.add(0);
    let fail = true;
    const cachedBlock = reader.cachedBlock.bind(reader);
    reader.cachedBlock = (index, begin, length) => {
      if (fail) {
        fail = false;
        throw new Error('planted');
      }
      return cachedBlock(index, begin, length);
    };
    const { uploader, writer } = uploaderWith(reader);
    assert.throws(() => uploader.onRequest(0, 0, BLOCK), /planted/);
    uploader.onRequest(0, BLOCK, BLOCK);
    assert.deepEqual(servedBlocks(writer), ['0:16384']);
  });
});
