import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import {
  Engine,
  formatMagnet,
  type Metainfo,
  parseMagnet,
  parseMetainfo,
  TorkErrorCode,
  toTorkError,
} from '@tork/core';
import { ThreadActorSystem } from '@tork/workers';
import { oneLine, parseDuration, parsePeerAddress } from '../args.js';
import { formatBytes, formatCount } from '../format.js';
import { type CommandHelp, printedHelp } from '../help.js';
import { type CliIo, ExitCode } from '../io.js';
import { dhtConfig, dhtHelp, dhtOptions, openDht } from './dht-options.js';

export const infoUsage =
  'usage: tork info <file.torrent|magnet> [--json] [--peer host:port]... [--no-trackers] [--no-dht] [--dht-bootstrap host:port,…] [--dht-state FILE] [--metadata-timeout T]';

const options = {
  json: { type: 'boolean', default: false },
  peer: { type: 'string', multiple: true },
  'no-trackers': { type: 'boolean', default: false },
  'metadata-timeout': { type: 'string' },
  ...dhtOptions,
} as const;

export const infoHelp: CommandHelp<typeof options> = {
  usage: infoUsage,
  summary: "print a torrent's name, info-hash, sizes, trackers and files",
  options,
  help: {
    json: { text: 'print one JSON object (the InfoJson shape) instead of text' },
    peer: { arg: 'host:port', text: 'for a magnet: ask this peer for the metadata too', default: 'none' },
    'no-trackers': { text: 'for a magnet: do not ask its trackers for peers' },
    'metadata-timeout': { arg: 'T', text: 'for a magnet: give up after T (90, 5m)', default: '5m' },
    ...dhtHelp,
  },
};

/** The `--json` shape of `tork info`; stable for scripts. Pad files (BEP 47) are not listed. */
export interface InfoJson {
  /**
   * The v1 info-hash (SHA-1, 40 hex); for a v2-only torrent, its v2 info-hash truncated to 20 bytes
   * (the id BEP 52 peers and trackers use).
   */
  infoHash: string;
  /** The v2 info-hash (SHA-256, 64 hex) of a v2 or hybrid torrent; absent for v1. */
  infoHashV2?: string;
  /** 1, 2 (v2 only) or 'hybrid'. */
  version: 1 | 2 | 'hybrid';
  /** A magnet link: `urn:btih` for v1 and hybrids, `urn:btmh` for v2 and hybrids. */
  magnet: string;
  name: string;
  length: number;
  pieceLength: number;
  pieceCount: number;
  private: boolean;
  announce: string[];
  announceTiers: string[][];
  urlList: string[];
  /** `index` is the file's index in the metainfo: what `tork download --select` takes. */
  files: Array<{ index: number; path: string; length: number }>;
  /**
   * What parsing changed or ignored instead of refusing the torrent: `kind` is one of
   * `trailing-data`, `path-sanitized`, `path-renamed`, `symlink-skipped`, `more-warnings`.
   */
  warnings: Array<{ kind: string; message: string; fileIndex?: number }>;
}

export function infoJson(meta: Metainfo): InfoJson {
  return {
    infoHash: meta.infoHashHex,
    ...(meta.infoHashV2Hex !== undefined ? { infoHashV2: meta.infoHashV2Hex } : {}),
    version: meta.version,
    magnet: formatMagnet({
      ...(meta.version === 2 ? { v2Only: true } : {}),
      infoHash: meta.infoHash,
      ...(meta.infoHashV2 !== undefined ? { infoHashV2: meta.infoHashV2 } : {}),
      name: meta.name,
      trackers: meta.announce.flat(),
    }),
    name: meta.name,
    length: meta.length,
    pieceLength: meta.pieceLength,
    pieceCount: meta.pieceCount,
    private: meta.private,
    announce: meta.announce.flat(),
    announceTiers: meta.announce.map((tier) => [...tier]),
    urlList: [...meta.urlList],
    files: meta.files.flatMap((file, index) =>
      file.pad ? [] : [{ index, path: file.path.join('/'), length: file.length }],
    ),
    warnings: meta.warnings.map((warning) => ({ ...warning })),
  };
}

function infoText(meta: Metainfo): string {
  const info = infoJson(meta);
  const lines = [
    `name:          ${info.name}`,
    ...(meta.version === 2
      ? [`info-hash v2:  ${info.infoHashV2}`, `  (swarm id:   ${info.infoHash}, v2 truncated)`]
      : [`info-hash:     ${info.infoHash}`]),
    ...(meta.version === 'hybrid' ? [`info-hash v2:  ${info.infoHashV2}`] : []),
    `version:       ${meta.version === 'hybrid' ? 'hybrid (v1 + v2)' : `v${meta.version}`}`,
    `total size:    ${formatBytes(info.length)} (${formatCount(info.length)} bytes)`,
    `piece length:  ${formatBytes(info.pieceLength)}`,
    `pieces:        ${formatCount(info.pieceCount)}`,
    `private:       ${info.private ? 'yes' : 'no'}`,
  ];
  if (meta.comment) lines.push(`comment:       ${meta.comment}`);
  if (meta.createdBy) lines.push(`created by:    ${meta.createdBy}`);
  info.announceTiers.forEach((tier, index) => {
    lines.push(`${index === 0 ? 'trackers:' : '         '}      tier ${index + 1}: ${tier.join(' ')}`);
  });
  for (const url of info.urlList) lines.push(`web seed:      ${url}`);
  lines.push(`magnet:        ${info.magnet}`);
  lines.push(`files (${formatCount(info.files.length)}):`);
  // The index first: what `tork download --select` takes.
  const width = Math.max(...info.files.map((file) => formatBytes(file.length).length), 1);
  const indexWidth = String(meta.files.length - 1).length;
  for (const file of info.files) {
    lines.push(
      `  ${String(file.index).padStart(indexWidth)}  ${formatBytes(file.length).padStart(width)}  ${file.path}`,
    );
  }
  if (info.warnings.length > 0) {
    lines.push(`warnings (${formatCount(info.warnings.length)}):`);
    for (const warning of info.warnings) lines.push(`  ${warning.message}`);
  }
  return `${lines.join('\n')}\n`;
}

export async function runInfo(args: readonly string[], io: CliIo): Promise<ExitCode> {
  if (printedHelp(args, io, infoHelp)) return ExitCode.OK;
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch (error) {
    io.stderr(`tork info: ${(error as Error).message}\n${infoUsage}\n`);
    return ExitCode.BAD_INPUT;
  }
  const [file, ...extra] = parsed.positionals;
  if (file === undefined || extra.length > 0) {
    io.stderr(`tork info: expected exactly one .torrent file or magnet link\n${infoUsage}\n`);
    return ExitCode.BAD_INPUT;
  }
  let meta: Metainfo;
  try {
    if (file.startsWith('magnet:')) {
      meta = await magnetMetainfo(file, parsed.values, io);
    } else {
      const bytes = await readFile(file).catch((error: unknown) => {
        throw toTorkError(error, TorkErrorCode.IO, `cannot read ${file}`);
      });
      meta = parseMetainfo(bytes);
    }
  } catch (error) {
    const torkError = toTorkError(error);
    io.stderr(`tork info: ${file}: ${oneLine(torkError)}\n`);
    return torkError.code === TorkErrorCode.INTERNAL ? ExitCode.FAILURE : ExitCode.BAD_INPUT;
  }
  io.stdout(parsed.values.json ? `${JSON.stringify(infoJson(meta))}\n` : infoText(meta));
  return ExitCode.OK;
}

/**
 * A magnet's metainfo, fetched from its peers (BEP 9): one peer host thread, no listener (the
 * peers are dialled), the magnet's `x.pe` and `tr`, `--peer`, and the DHT (a public torrent
 * unless `--no-dht`; with no listener it only looks up, it announces nothing, on any free UDP port).
 */
async function magnetMetainfo(
  link: string,
  values: ReturnType<typeof parse>['values'],
  io: CliIo,
): Promise<Metainfo> {
  const magnet = parseMagnet(link);
  const peers = (values.peer ?? []).map(parsePeerAddress);
  const timeoutMs =
    values['metadata-timeout'] !== undefined
      ? parseDuration(values['metadata-timeout'], 'metadata-timeout') * 1000
      : undefined;
  const dht = openDht(dhtConfig(values), { host: '0.0.0.0', port: 0 }, io, 'text');
  const engine = new Engine({
    actors: await ThreadActorSystem.start({ workers: 1 }),
    port: 0,
    discovery: dht ? [dht] : [],
  });
  try {
    const fetched = await engine.fetchMetadata({
      magnet,
      peers,
      useTrackers: !values['no-trackers'],
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    });
    return fetched.meta;
  } finally {
    await engine.close();
    await dht?.close();
  }
}

function parse(args: readonly string[]) {
  return parseArgs({
    args: [...args],
    allowPositionals: true,
    strict: true,
    options,
  });
}

export { oneLine };
