import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TorkErrorCode } from '../errors.js';
import { fileMerkle } from '../metainfo/merkle-tree.js';
import { V2_PIECE_CHECK_SIZE, v2PieceChecks } from '../metainfo/v2-piece-checks.js';
import { hashPiecesOnDisk } from './hash-pieces-on-disk.js';
import type { PieceSpanOnDisk } from './piece-span.js';

const PIECE = 64 * 1024;

describe('hashPiecesOnDisk with BEP 52 checks', () => {
  let dir: string;
  // A long file with a short tail (pad after it), a file of less than a block, one of one piece and a byte.
  const lengths = [3 * PIECE + 20_001, 5_000, PIECE + 1];
  const datas = lengths.map((length) => randomBytes(length));
  const files: { length: number; pad: boolean; path: string | null }[] = [];
  const roots: (Uint8Array | undefined)[] = [];
  const layers = new Map<string, Uint8Array>();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tork-hash-v2-'));
    for (const [i, data] of datas.entries()) {
      const path = join(dir, `f${i}`);
      await writeFile(path, data);
      const merkle = fileMerkle(data, PIECE);
      files.push({ length: data.length, pad: false, path });
      roots.push(merkle.root);
      if (merkle.pieceLayer && merkle.root)
        layers.set(Buffer.from(merkle.root).toString('hex'), merkle.pieceLayer);
      const tail = data.length % PIECE;
      if (tail !== 0) {
        files.push({ length: PIECE - tail, pad: true, path: null });
        roots.push(undefined);
      }
    }
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** Each piece's spans, the file span cut at odd places so that leaves straddle reads. */
  function pieces(): PieceSpanOnDisk[][] {
    const out: PieceSpanOnDisk[][] = [];
    let piece: PieceSpanOnDisk[] = [];
    let filled = 0;
    for (const file of files) {
      for (let at = 0; at < file.length; ) {
        const take = Math.min(file.length - at, PIECE - filled);
        const cut = file.pad ? take : Math.min(take, 7_777);
        piece.push({ path: file.path, offset: file.pad ? 0 : at, length: cut });
        for (let rest = cut; rest < take; ) {
          const more = Math.min(take - rest, 10_000);
          piece.push({ path: file.path, offset: at + rest, length: more });
          rest += more;
        }
        at += take;
        filled += take;
        if (filled === PIECE) {
          out.push(piece);
          piece = [];
          filled = 0;
        }
      }
    }
    if (piece.length > 0) out.push(piece);
    return out;
  }

  function table(): Uint8Array {
    const all = pieces();
    const checks = v2PieceChecks({
      pieceLength: PIECE,
      pieceCount: all.length,
      files,
      v2: { piecesRoots: roots, pieceLayers: layers, hasPieceLayers: true },
    });
    assert.ok(checks);
    return checks;
  }

  it('every piece passes its merkle check; without SHA-1 the hashes stay zeros', async () => {
    const all = pieces();
    const result = await hashPiecesOnDisk(all, { v2Checks: table(), sha1: false });
    assert.deepEqual(result.missing, []);
    assert.deepEqual(
      [...(result.v2Ok ?? [])],
      all.map(() => 1),
    );
    assert.ok(result.hashes.every((byte) => byte === 0));
  });

  it('with SHA-1 too (a hybrid): both computed from the one read', async () => {
    const all = pieces();
    const result = await hashPiecesOnDisk(all, { v2Checks: table() });
    const first = createHash('sha1').update(datas[0]!.subarray(0, PIECE)).digest();
    assert.deepEqual(Buffer.from(result.hashes.subarray(0, 20)), first);
    assert.ok(result.v2Ok?.every((ok) => ok === 1));
  });

  it('a changed byte, a piece checked under another record, a short file: not passed', async () => {
    const all = pieces();
    const checks = table();
    const changed = Buffer.from(datas[0]!);
    changed.writeUInt8(changed.readUInt8(PIECE + 16_384 + 5) ^ 1, PIECE + 16_384 + 5);
    await writeFile(join(dir, 'changed'), changed);
    const spans = (index: number, path: string) =>
      all[index]!.map((span) => (span.path ? { ...span, path } : span));
    const records = new Uint8Array(4 * V2_PIECE_CHECK_SIZE);
    records.set(checks.subarray(0, 2 * V2_PIECE_CHECK_SIZE));
    records.set(checks.subarray(V2_PIECE_CHECK_SIZE, 2 * V2_PIECE_CHECK_SIZE), 2 * V2_PIECE_CHECK_SIZE);
    records.set(checks.subarray(0, V2_PIECE_CHECK_SIZE), 3 * V2_PIECE_CHECK_SIZE);
    await writeFile(join(dir, 'short'), datas[0]!.subarray(0, PIECE - 1));
    const result = await hashPiecesOnDisk(
      [spans(0, join(dir, 'changed')), spans(1, join(dir, 'changed')), all[0]!, spans(0, join(dir, 'short'))],
      { v2Checks: records, sha1: false },
    );
    assert.deepEqual([...(result.v2Ok ?? [])], [1, 0, 0, 0]);
    assert.deepEqual(result.missing, [3]);
  });

  it('refuses a table that is not one record per piece', async () => {
    await assert.rejects(hashPiecesOnDisk(pieces(), { v2Checks: new Uint8Array(3) }), {
      code: TorkErrorCode.INTERNAL,
    });
  });
});
