/**
 * The BEP 52 fields of a Metainfo and how they are filled for v1, v2-only and hybrid torrents.
 * Kept apart from metainfo.ts so that the v1 parser stays as it was; `parseMetainfo` calls
 * `v2OnlyFields` before its v1 path and `v2Fields` after it.
 */
import { createHash } from 'node:crypto';
import type { Metainfo, MetainfoFile } from './metainfo.js';
import {
  checkHybridFiles,
  type MetainfoVersion,
  parseV2Part,
  type V2Part,
  v2Kind,
  v2LayoutFiles,
} from './metainfo-v2.js';
import { quoted, type WarningList } from './metainfo-warnings.js';
import {
  checkPathComponent,
  checkPathConflicts,
  checkRelativePath,
  checkRelativePathBytes,
} from './safe-path.js';
import { renameDuplicatePaths, sanitizeComponent, sanitizePath } from './sanitize-path.js';

/** Per-file v2 data of a torrent. */
export interface MetainfoV2 {
  /** Index-aligned with `Metainfo.files`: each file's 32-byte pieces root; undefined for pad and empty files. */
  readonly piecesRoots: readonly (Uint8Array | undefined)[];
  /** Piece layers by hex pieces root (files longer than one piece), each checked against its root. */
  readonly pieceLayers: ReadonlyMap<string, Uint8Array>;
  /** False when the torrent carried no `piece layers` (e.g. metadata fetched from peers). */
  readonly hasPieceLayers: boolean;
}

/** What BEP 52 adds to Metainfo. */
export interface MetainfoV2Fields {
  /** 1: v1 only; 2: v2 only (no SHA-1 piece hashes); 'hybrid': both, checked to agree. */
  readonly version: MetainfoVersion;
  /** SHA-256 of the exact `info` bytes (v2 and hybrid torrents). */
  readonly infoHashV2?: Uint8Array;
  /** `infoHashV2` as 64 lowercase hex digits. */
  readonly infoHashV2Hex?: string;
  /** Pieces roots and piece layers (v2 and hybrid torrents). */
  readonly v2?: MetainfoV2;
}

/** What `v2OnlyFields` gives: everything but the fields read outside the info dictionary. */
export type V2OnlyMetainfoFields = Omit<
  Metainfo,
  'pieceHash' | 'announce' | 'urlList' | 'comment' | 'createdBy' | 'creationDate' | 'warnings'
>;

export function v1OnlyFields(): MetainfoV2Fields {
  return { version: 1 };
}

function model(part: V2Part, piecesRoots: (Uint8Array | undefined)[]): MetainfoV2 {
  return Object.freeze({
    piecesRoots: Object.freeze(piecesRoots),
    pieceLayers: part.pieceLayers,
    hasPieceLayers: part.hasPieceLayers,
  });
}

function hashFields(part: V2Part) {
  return { infoHashV2: part.infoHashV2, infoHashV2Hex: Buffer.from(part.infoHashV2).toString('hex') };
}

/** For a hybrid: the v2 half, checked against the v1 files. Undefined for a v1 torrent. */
export function v2Fields(
  root: Record<string, unknown>,
  info: Record<string, unknown>,
  infoBytes: Uint8Array,
  files: readonly MetainfoFile[],
): MetainfoV2Fields | undefined {
  if (v2Kind(info) === 'none') return undefined;
  const part = parseV2Part(root, info, infoBytes);
  // A v1 symlink is marked `pad` (nothing written) but is a file of the v2 tree: match it as one.
  const views = files.map((file) => (file.symlink !== undefined ? { ...file, pad: false } : file));
  checkHybridFiles(info, views, part);
  const roots: (Uint8Array | undefined)[] = [];
  let next = 0;
  for (const file of views) roots.push(file.pad ? undefined : part.files[next++]?.piecesRoot);
  return { version: 'hybrid', ...hashFields(part), v2: model(part, roots) };
}

/**
 * For a v2-only torrent: a function giving every field but the common ones (trackers, comment...)
 * once the caller has decoded the name. Undefined for v1 and hybrid torrents.
 */
export function v2OnlyFields(
  root: Record<string, unknown>,
  info: Record<string, unknown>,
  infoView: Uint8Array,
): { fields(name: string, warnings: WarningList): V2OnlyMetainfoFields } | undefined {
  if (v2Kind(info) !== 'v2') return undefined;
  const infoBytes = new Uint8Array(infoView);
  const part = parseV2Part(root, info, infoBytes);
  return {
    fields(name: string, warnings: WarningList) {
      const layout = v2LayoutFiles(part);
      const single = part.files.length === 1 && part.files[0]!.path.length === 1;
      sanitizeTreePaths(layout, single, warnings);
      let offset = 0;
      const files: MetainfoFile[] = layout.map((file, index) => {
        if (!file.pad) {
          if (single) {
            checkPathComponent(file.path[0]!, { fileIndex: 0, field: 'info.file tree' });
          } else {
            checkRelativePath(file.path, { fileIndex: index, field: 'info.file tree' });
            checkRelativePathBytes([name, ...file.path], { fileIndex: index, field: 'info.file tree' });
          }
        }
        const entry = Object.freeze({
          path: Object.freeze(file.path),
          length: file.length,
          offset,
          pad: file.pad,
          attr: file.attr,
        });
        offset += file.length;
        return entry;
      });
      checkPathConflicts(files.map((file) => ({ path: file.path, skip: file.pad })));
      const infoHash = infoHashV1Slot(part.infoHashV2);
      return {
        version: 2 as const,
        ...hashFields(part),
        v2: model(
          part,
          layout.map((file) => file.piecesRoot),
        ),
        infoHash,
        infoHashHex: Buffer.from(infoHash).toString('hex'),
        infoBytes,
        name,
        pieceLength: part.pieceLength,
        pieceCount: part.pieceCount,
        pieceHashes: new Uint8Array(0),
        length: offset,
        private: info.private === 1,
        files: Object.freeze(files),
        isMultiFile: !single,
      };
    },
  };
}

/**
 * The tree's names made plain as a v1 list's are (sanitize-path.ts, libtorrent's rules): each
 * component sanitised, duplicates (compared ignoring ASCII case) renamed `base.N.ext`, each change
 * a warning. The v2 info-hash is over the raw bytes, so it does not change; the hybrid check
 * (`checkHybridFiles`) compares the raw tree names, before this. A name that is not valid UTF-8
 * reaches here as its hex (the bencode decoder names such keys so) and stays that plain name.
 */
function sanitizeTreePaths(
  layout: Array<{ path: string[]; pad: boolean }>,
  single: boolean,
  warnings: WarningList,
): void {
  const encoder = new TextEncoder();
  layout.forEach((file, index) => {
    if (file.pad) return;
    const raw = file.path.map((component) => encoder.encode(component));
    const path = single ? [sanitizeComponent(raw[0]!) ?? '_'] : sanitizePath(raw);
    const original = file.path.join('/');
    if (path.join('/') === original) return;
    warnings.add({
      kind: 'path-sanitized',
      fileIndex: index,
      message: `file ${index}: path ${quoted(original)} is used as ${quoted(path.join('/'))}`,
    });
    file.path = path;
  });
  renameDuplicatePaths(layout, warnings);
}

/** A v2-only torrent's 20-byte swarm id: the v2 info-hash truncated (BEP 52). */
function infoHashV1Slot(infoHashV2: Uint8Array): Uint8Array {
  return new Uint8Array(infoHashV2.subarray(0, 20));
}

/** SHA-256 of `infoBytes`: the v2 info-hash of any torrent with these info bytes. */
export function infoHashV2Of(infoBytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(infoBytes).digest());
}
