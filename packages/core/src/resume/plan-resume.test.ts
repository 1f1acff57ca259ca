import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Bitfield } from '../bitfield.js';
import { TorkError, TorkErrorCode } from '../errors.js';
import { FileLayout, type LayoutFile } from '../metainfo/file-layout.js';
import { type CurrentFileStat, planResume } from './plan-resume.js';
import type { LoadedResume } from './resume-store.js';
import type { ResumeFileState } from './snapshot.js';

const HEX = 'c12fe1c06bba254a9dc9f519b335aa7c1367a88a';

// Pieces of 10 bytes over: a = 25 bytes (pieces 0-2), b = 10 (2-3), empty, pad 5 (3), c = 12 (4-5).
const LAYOUT_FILES: LayoutFile[] = [
  { length: 25 },
  { length: 10 },
  { length: 0 },
  { length: 5, pad: true },
  { length: 12 },
];
const LAYOUT = new FileLayout(LAYOUT_FILES, 10);
const SAVED: ResumeFileState[] = LAYOUT_FILES.map((file, index) => ({
  path: ['tor', `f${index}`],
  size: file.length,
  mtimeMs: 1000 + index + 0.5,
}));
const SAME: (CurrentFileStat | null)[] = SAVED.map((file, index) =>
  LAYOUT_FILES[index]!.pad ? null : { size: file.size, mtimeMs: file.mtimeMs },
);

function loaded(options: {
  pieces: number[];
  clean: boolean;
  journal?: number[];
  files?: ResumeFileState[];
  layout?: FileLayout;
}): LoadedResume {
  const layout = options.layout ?? LAYOUT;
  const verified = new Bitfield(layout.pieceCount);
  for (const piece of options.pieces) verified.set(piece);
  const journal = [...new Set(options.journal ?? [])].sort((a, b) => a - b);
  const union = new Bitfield(layout.pieceCount, verified.bytes);
  for (const piece of journal) union.set(piece);
  return {
    snapshot: {
      version: 1,
      infoHashHex: HEX,
      pieceCount: layout.pieceCount,
      pieceLength: layout.pieceLength,
      verified,
      files: options.files ?? SAVED,
      clean: options.clean,
      journalOffset: 0,
    },
    journalPieces: journal,
    pieces: [...union.indices()],
    clean: options.clean && journal.length === 0,
  };
}

function plan(state: LoadedResume | null, files = SAME, anyDataOnDisk?: boolean) {
  return planResume({ loaded: state, files, pieceCount: LAYOUT.pieceCount, layout: LAYOUT, anyDataOnDisk });
}

const ALL = [0, 1, 2, 3, 4, 5];

describe('planResume', () => {
  it('clean snapshot, files unchanged: every claimed piece trusted', () => {
    const result = plan(loaded({ pieces: [0, 2, 5], clean: true }));
    assert.deepEqual(result.trusted, [0, 2, 5]);
    assert.deepEqual(result.recheck, []);
    assert.match(result.reason, /clean snapshot, files unchanged/);
  });

  it('clean snapshot, one file with another mtime: its pieces rechecked, the rest trusted', () => {
    const files = [...SAME];
    files[1] = { size: 10, mtimeMs: 9999 };
    const result = plan(loaded({ pieces: ALL, clean: true }), files);
    assert.deepEqual(result.trusted, [0, 1, 4, 5]);
    assert.deepEqual(result.recheck, [2, 3]);
    assert.match(result.reason, /1 of 5 files changed/);
  });

  it('clean snapshot, one file with another size: its pieces rechecked', () => {
    const files = [...SAME];
    files[4] = { size: 13, mtimeMs: SAVED[4]!.mtimeMs };
    const result = plan(loaded({ pieces: ALL, clean: true }), files);
    assert.deepEqual(result.trusted, [0, 1, 2, 3]);
    assert.deepEqual(result.recheck, [4, 5]);
  });

  it('clean snapshot, a missing file: its pieces dropped, the rest trusted', () => {
    const files = [...SAME];
    files[0] = null;
    const result = plan(loaded({ pieces: ALL, clean: true }), files);
    assert.deepEqual(result.trusted, [3, 4, 5]);
    assert.deepEqual(result.recheck, []);
    assert.match(result.reason, /0 to recheck, 3 dropped/);
  });

  it('a file shorter than needed: pieces past its end dropped even when claimed', () => {
    const files = [...SAME];
    files[0] = { size: 15, mtimeMs: 1 };
    const result = plan(loaded({ pieces: ALL, clean: false }), files);
    // Byte 15 of a is in piece 1: pieces 1 and 2 need it; piece 0 does not.
    assert.deepEqual(result.recheck, [0, 3, 4, 5]);
  });

  it('unclean snapshot: every claimed piece rechecked', () => {
    const result = plan(loaded({ pieces: [1, 4], clean: false }));
    assert.deepEqual(result.trusted, []);
    assert.deepEqual(result.recheck, [1, 4]);
    assert.match(result.reason, /unclean/);
  });

  it('journal entries after a clean snapshot: every claimed piece rechecked', () => {
    const result = plan(loaded({ pieces: [0, 1], clean: true, journal: [5] }));
    assert.deepEqual(result.trusted, []);
    assert.deepEqual(result.recheck, [0, 1, 5]);
  });

  it('no state, data on disk: every piece whose files exist rechecked', () => {
    const files = [...SAME];
    files[4] = null;
    const result = plan(null, files);
    assert.deepEqual(result.trusted, []);
    assert.deepEqual(result.recheck, [0, 1, 2, 3]);
    assert.match(result.reason, /no resume state, data on disk/);
    assert.deepEqual(plan(null, files, true).recheck, [0, 1, 2, 3]);
  });

  it('no state and no data: nothing to check', () => {
    const empty = SAME.map((file) => (file ? { size: 0, mtimeMs: 1 } : null));
    assert.deepEqual(plan(null, empty), {
      trusted: [],
      recheck: [],
      reason: 'no resume state, no data on disk: nothing to check',
    });
    assert.deepEqual(plan(null, SAME, false).recheck, []);
  });

  it('a refused snapshot (journal only) or one for another layout falls back to the no-state rule', () => {
    const journalOnly: LoadedResume = {
      snapshot: null,
      journalPieces: [1],
      pieces: [1],
      clean: false,
      warning: 'x',
    };
    assert.deepEqual(plan(journalOnly).recheck, ALL);
    assert.deepEqual(plan(journalOnly).trusted, []);
    const otherLayout = new FileLayout([{ length: 60 }], 20);
    const foreign = loaded({ pieces: [0, 1, 2], clean: true, layout: otherLayout, files: [SAVED[0]!] });
    const result = plan(foreign);
    assert.deepEqual(result.trusted, []);
    assert.deepEqual(result.recheck, ALL);
    assert.match(result.reason, /snapshot for another piece count/);
  });

  it('refuses inputs that disagree with the layout', () => {
    assert.throws(
      () => planResume({ loaded: null, files: SAME.slice(1), pieceCount: 6, layout: LAYOUT }),
      (error: unknown) => error instanceof TorkError && error.code === TorkErrorCode.USAGE,
    );
  });

  it('property: a piece is trusted only if a clean state claimed it and its files are unchanged', () => {
    const arbitrary = fc
      .record({
        lengths: fc.array(fc.record({ length: fc.nat(40), pad: fc.boolean() }), {
          minLength: 1,
          maxLength: 6,
        }),
        pieceLength: fc.integer({ min: 1, max: 16 }),
      })
      .filter(({ lengths }) => lengths.some((file) => file.length > 0))
      .chain(({ lengths, pieceLength }) => {
        const layout = new FileLayout(lengths, pieceLength);
        const stat = fc.option(fc.record({ size: fc.nat(50), mtimeMs: fc.constantFrom(1, 2, 2.5) }), {
          nil: null,
        });
        return fc.record({
          layout: fc.constant(layout),
          hasState: fc.boolean(),
          clean: fc.boolean(),
          claimed: fc.subarray([...Array(layout.pieceCount).keys()]),
          journal: fc.subarray([...Array(layout.pieceCount).keys()]),
          saved: fc.array(fc.record({ size: fc.nat(50), mtimeMs: fc.constantFrom(1, 2, 2.5) }), {
            minLength: layout.fileCount,
            maxLength: layout.fileCount,
          }),
          current: fc.array(stat, { minLength: layout.fileCount, maxLength: layout.fileCount }),
          sameAsSaved: fc.array(fc.boolean(), { minLength: layout.fileCount, maxLength: layout.fileCount }),
          anyData: fc.option(fc.boolean(), { nil: undefined }),
        });
      });
    fc.assert(
      fc.property(arbitrary, (input) => {
        const { layout } = input;
        const saved = input.saved.map((file, index) => ({ path: [`f${index}`], ...file }));
        // Bias towards unchanged files, or trust would almost never be exercised.
        const current = input.current.map((file, index) =>
          input.sameAsSaved[index] ? { size: saved[index]!.size, mtimeMs: saved[index]!.mtimeMs } : file,
        );
        const state = input.hasState
          ? loaded({
              pieces: input.claimed,
              clean: input.clean,
              journal: input.journal,
              files: saved,
              layout,
            })
          : null;
        const result = planResume({
          loaded: state,
          files: current,
          pieceCount: layout.pieceCount,
          layout,
          anyDataOnDisk: input.anyData,
        });
        const sorted = (list: number[]) =>
          list.every((value, index) => index === 0 || list[index - 1]! < value);
        assert.ok(sorted(result.trusted) && sorted(result.recheck));
        const recheck = new Set(result.recheck);
        for (const piece of result.trusted) {
          assert.ok(!recheck.has(piece), 'trusted and rechecked at once');
          assert.ok(
            state?.clean === true && state.journalPieces.length === 0,
            'trusted without a clean state',
          );
          assert.ok(input.claimed.includes(piece), `piece ${piece} trusted but never claimed`);
          for (const span of layout.spans(piece)) {
            if (span.pad) continue;
            const now = current[span.fileIndex];
            const then = saved[span.fileIndex]!;
            assert.ok(
              now && now.size === then.size && now.mtimeMs === then.mtimeMs,
              `piece ${piece}: file changed`,
            );
          }
        }
        // Nothing outside the claims is rechecked when a usable snapshot exists.
        if (state !== null) for (const piece of result.recheck) assert.ok(state.pieces.includes(piece));
        // Determinism.
        assert.deepEqual(
          planResume({
            loaded: state,
            files: current,
            pieceCount: layout.pieceCount,
            layout,
            anyDataOnDisk: input.anyData,
          }),
          result,
        );
      }),
      { numRuns: 500 },
    );
  });
});
