/**
 * `tork bench --format`: the cached data set as a v1, a v2-only or a hybrid torrent. v1 is the data
 * set's own torrent; v2 and hybrid are made once per cached data set by `tork create --v2/--hybrid`
 * (tork's own writer: `hashFilesV2` + `encodeTorrentV2`) and kept next to it.
 */
import { spawn } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { decodeBencode, encodeBencode, findTopLevelSpan, parseMetainfo } from '@tork/core';
import type { Dataset } from '../demo/dataset.js';
import { torkMain } from '../demo/seeders.js';

/** A torrent format the bench can download: BitTorrent v1, v2 only (BEP 52), or hybrid (both). */
export type TorrentFormat = 'v1' | 'v2' | 'hybrid';

export const TORRENT_FORMATS: readonly TorrentFormat[] = ['v1', 'v2', 'hybrid'];

/** One format's torrent of the data set, and what it lays out. Field names are stable (docs/performance.md). */
export interface FormatTorrent {
  readonly format: TorrentFormat;
  /** The cached .torrent (announcing nowhere useful: the bench rewrites the announce per run). */
  readonly path: string;
  /** v1 info-hash, or a v2-only torrent's truncated v2 info-hash (what the handshake carries). */
  readonly infoHash: string;
  /** The full SHA-256 v2 info-hash; null for v1. */
  readonly infoHashV2: string | null;
  readonly pieceCount: number;
  /** Bytes of the piece layout: the data plus a hybrid's pad files (zeros, never sent nor written). */
  readonly layoutBytes: number;
  /** BEP 47 pad files of a hybrid's v1 file list and their bytes; 0 otherwise. */
  readonly padFiles: number;
  readonly padBytes: number;
  /** Seconds `tork create` took to hash and write it in this invocation; null: cached or v1. */
  readonly createSeconds: number | null;
}

/** Placeholder tracker for the cached torrents (`tork create` requires one; replaced before use). */
const PLACEHOLDER_ANNOUNCE = 'http://127.0.0.1:1/announce';

function describe(
  format: TorrentFormat,
  path: string,
  bytes: Uint8Array,
  seconds: number | null,
): FormatTorrent {
  const meta = parseMetainfo(bytes);
  const pads = meta.files.filter((file) => file.pad);
  return {
    format,
    path,
    infoHash: meta.infoHashHex,
    infoHashV2: meta.infoHashV2Hex ?? null,
    pieceCount: meta.pieceCount,
    layoutBytes: meta.length,
    padFiles: pads.length,
    padBytes: pads.reduce((sum, file) => sum + file.length, 0),
    createSeconds: seconds,
  };
}

/** `tork create` of this build, to its end: its exit status and the tail of its output. */
function torkCreate(args: readonly string[]): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [torkMain, 'create', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4096);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', (error) => resolve({ status: null, output: String(error) }));
    child.once('close', (status) => resolve({ status, output }));
  });
}

/**
 * The data set's torrent in `format`: v1 is `dataset.torrentPath`; v2 and hybrid are made by
 * `tork create` over the data set's directory with its piece length on first use, then reused
 * (`<cache>/<name>/<name>.<format>.torrent`; `tork create` writes it atomically).
 */
export async function formatTorrent(
  dataset: Dataset,
  pieceLength: number,
  format: TorrentFormat,
  log: (line: string) => void,
): Promise<FormatTorrent> {
  if (format === 'v1')
    return describe(format, dataset.torrentPath, await readFile(dataset.torrentPath), null);
  const path = join(dirname(dataset.torrentPath), `${dataset.name}.${format}.torrent`);
  if (
    await stat(path).then(
      (info) => info.isFile(),
      () => false,
    )
  )
    return describe(format, path, await readFile(path), null);
  const started = performance.now();
  const { status, output } = await torkCreate([
    join(dataset.dataDir, dataset.name),
    '--announce',
    PLACEHOLDER_ANNOUNCE,
    '-o',
    path,
    '--piece-size',
    String(pieceLength),
    `--${format}`,
    '--created-by',
    'tork bench',
    '--json',
  ]);
  if (status !== 0) throw new Error(`tork create --${format} failed (status ${status}): ${output.trim()}`);
  const seconds = (performance.now() - started) / 1000;
  log(`bench: ${format} torrent made by tork create --${format} in ${seconds.toFixed(1)} s`);
  return describe(format, path, await readFile(path), Number(seconds.toFixed(3)));
}

/**
 * `bytes` (a .torrent) announcing to `url` alone. Every other top-level value is copied byte for
 * byte: a v2 torrent's `piece layers` are keyed by raw 32-byte roots, which a decode and
 * re-encode through string keys would not keep.
 */
export function withAnnounce(bytes: Uint8Array, url: string): Uint8Array {
  const top = decodeBencode(bytes) as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(top), 'announce', 'announce-list'])].sort((a, b) =>
    Buffer.compare(Buffer.from(a), Buffer.from(b)),
  );
  const parts: Uint8Array[] = [Buffer.from('d')];
  for (const key of keys) {
    parts.push(encodeBencode(Buffer.from(key)));
    if (key === 'announce') parts.push(encodeBencode(url));
    else if (key === 'announce-list') parts.push(encodeBencode([[url]]));
    else {
      const span = findTopLevelSpan(bytes, key);
      if (span === undefined) throw new Error(`torrent key '${key}' not found again`);
      parts.push(bytes.subarray(span.start, span.end));
    }
  }
  parts.push(Buffer.from('e'));
  return new Uint8Array(Buffer.concat(parts));
}

/** Writes `torrent.path` announcing to `url` as `out`; returns `out`. */
export async function torrentWithTracker(torrent: FormatTorrent, url: string, out: string): Promise<string> {
  const bytes = withAnnounce(await readFile(torrent.path), url);
  // Same info-hash as the cached file: only the announce changed.
  const meta = parseMetainfo(bytes);
  if (meta.infoHashHex !== torrent.infoHash)
    throw new Error(`${out}: the info-hash changed while rewriting the announce`);
  await writeFile(out, bytes);
  return out;
}
