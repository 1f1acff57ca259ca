import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  Engine,
  type Metainfo,
  type PeerAddress,
  parseMetainfo,
  TorkError,
  TorkErrorCode,
  type Torrent,
  toTorkError,
} from '@tork/core';
import { ThreadActorSystem } from '@tork/workers';
import { formatBytes } from '../format.js';
import { type CliIo, ExitCode } from '../io.js';
import { formatRate, peerTable, statusLine } from '../progress/render.js';
import { oneLine } from './info.js';

export const downloadUsage =
  'usage: tork download <file.torrent> --out DIR [--peer host:port]... [--port N] [--max-peers N] [--workers N] [--no-trackers] [--peers] [--json] [--quiet]';

const options = {
  out: { type: 'string', short: 'o' },
  peer: { type: 'string', multiple: true },
  port: { type: 'string' },
  'max-peers': { type: 'string' },
  workers: { type: 'string' },
  'no-trackers': { type: 'boolean', default: false },
  peers: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  quiet: { type: 'boolean', short: 'q', default: false },
} as const;

function usageError(message: string): TorkError {
  return new TorkError(TorkErrorCode.USAGE, message);
}

function intOption(
  value: string | undefined,
  name: string,
  min: number,
  max: number,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number < min || number > max) {
    throw usageError(`--${name} must be an integer from ${min} to ${max}, got '${value}'`);
  }
  return number;
}

/** `host:port`, `[v6]:port`. */
export function parsePeerAddress(text: string): PeerAddress {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text);
  const port = match ? Number(match[3]) : 0;
  if (!match || port < 1 || port > 65535) throw usageError(`--peer must be host:port, got '${text}'`);
  return { host: (match[1] ?? match[2])!, port };
}

/** Where output goes, by mode: NDJSON events, a live terminal display, or plain periodic lines. */
interface Reporter {
  attach(torrent: Torrent): void;
  finish(): void;
}

function jsonReporter(io: CliIo): Reporter {
  const emit = (event: string, data: object) =>
    io.stdout(`${JSON.stringify({ event, time: Date.now(), ...data })}\n`);
  return {
    attach(torrent) {
      torrent.on('started', (data) => emit('started', data));
      torrent.on('peer-connected', (data) => emit('peer-connected', data));
      torrent.on('peer-disconnected', (data) => emit('peer-disconnected', data));
      torrent.on('pieces-verified', (data) => emit('piece-verified', data));
      torrent.on('tracker-peers', (data) => emit('tracker-peers', data));
      torrent.on('tracker-error', (data) => emit('tracker-error', data));
      torrent.on('progress', (progress) => emit('progress', { ...progress }));
      torrent.on('done', (progress) => emit('done', { ...progress }));
      torrent.on('error', (data) => emit('error', data));
    },
    finish() {},
  };
}

function textReporter(io: CliIo, tty: boolean, showPeers: boolean): Reporter {
  let lastLines = 0;
  let lastPlain = 0;
  let peersVisible = showPeers;
  let onKey: ((data: Buffer) => void) | undefined;
  return {
    attach(torrent) {
      torrent.on('tracker-error', ({ error }) => {
        if (!tty) io.stderr(`tork: tracker: ${error.message}\n`);
      });
      if (tty && process.stdin.isTTY) {
        // 'p' toggles the per-peer view; Ctrl-C still arrives as SIGINT through the raw TTY handler below.
        process.stdin.setRawMode(true);
        onKey = (data: Buffer) => {
          if (data[0] === 0x03) process.kill(process.pid, 'SIGINT');
          else if (data.toString() === 'p') peersVisible = !peersVisible;
        };
        process.stdin.on('data', onKey);
        process.stdin.resume();
      }
      torrent.on('progress', (progress) => {
        if (tty) {
          const lines = [statusLine(progress)];
          if (peersVisible) lines.push(...peerTable(torrent.peerViews()));
          else lines.push('  (press p for peers, Ctrl-C to stop)');
          // Move up over the previous frame and clear it, then draw the new one.
          const up = lastLines > 0 ? `\x1b[${lastLines}F` : '';
          io.stdout(`${up}\x1b[J${lines.join('\n')}\n`);
          lastLines = lines.length;
        } else if (Date.now() - lastPlain >= 5_000) {
          lastPlain = Date.now();
          io.stdout(`${statusLine(progress)}\n`);
          if (peersVisible) io.stdout(`${peerTable(torrent.peerViews()).join('\n')}\n`);
        }
      });
    },
    finish() {
      if (onKey) {
        process.stdin.off('data', onKey);
        process.stdin.setRawMode(false);
        process.stdin.pause();
      }
    },
  };
}

export async function runDownload(args: readonly string[], io: CliIo): Promise<ExitCode> {
  let meta: Metainfo;
  let outDir: string;
  let parsed: ReturnType<
    typeof parseArgs<{ args: string[]; options: typeof options; allowPositionals: true }>
  >;
  let peers: PeerAddress[];
  let port: number;
  let maxPeers: number;
  let workers: number;
  try {
    parsed = parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
    const [file, ...extra] = parsed.positionals;
    if (file === undefined || extra.length > 0) throw usageError('expected exactly one .torrent file');
    if (!parsed.values.out) throw usageError('--out DIR is required');
    outDir = resolve(parsed.values.out);
    peers = (parsed.values.peer ?? []).map(parsePeerAddress);
    port = intOption(parsed.values.port, 'port', 0, 65535, 6881);
    maxPeers = intOption(parsed.values['max-peers'], 'max-peers', 1, 10_000, 80);
    workers = intOption(parsed.values.workers, 'workers', 1, 64, availableParallelism());
    const bytes = await readFile(file).catch((error: unknown) => {
      throw toTorkError(error, TorkErrorCode.IO, `cannot read ${file}`);
    });
    meta = parseMetainfo(bytes);
  } catch (error) {
    const torkError = toTorkError(error, TorkErrorCode.USAGE);
    io.stderr(`tork download: ${oneLine(torkError)}\n`);
    if (torkError.code === TorkErrorCode.USAGE) io.stderr(`${downloadUsage}\n`);
    return ExitCode.BAD_INPUT;
  }

  const json = parsed.values.json;
  const quiet = parsed.values.quiet;
  const tty = !json && !quiet && Boolean(process.stdout.isTTY);
  const reporter: Reporter | undefined = json
    ? jsonReporter(io)
    : quiet
      ? undefined
      : textReporter(io, tty, parsed.values.peers);

  const actors = await ThreadActorSystem.start({ workers });
  const engine = new Engine({ actors, port });
  const cpuStart = process.cpuUsage();
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    void engine.close();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    if (!json && !quiet) {
      io.stdout(`${meta.name}: ${formatBytes(meta.length)} in ${meta.pieceCount} pieces → ${outDir}\n`);
    }
    const torrent = await engine.add(
      { meta, outDir, peers, maxPeers, useTrackers: !parsed.values['no-trackers'] },
      (created) => reporter?.attach(created),
    );
    const final = await torrent.whenDone();
    reporter?.finish();
    await engine.close();
    if (!json && !quiet) {
      const seconds = final.elapsedMs / 1000;
      const cpu = process.cpuUsage(cpuStart);
      io.stdout(
        `done: ${formatBytes(final.length)} in ${seconds.toFixed(1)} s (${formatRate(final.length / Math.max(seconds, 0.001))}), ` +
          `CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s (all tork threads), peak RSS ${formatBytes(process.resourceUsage().maxRSS * 1024)}, ` +
          `wasted ${formatBytes(final.wastedBytes)}\n`,
      );
    }
    return ExitCode.OK;
  } catch (error) {
    reporter?.finish();
    await engine.close().catch(() => {});
    if (interrupted) {
      io.stderr('tork download: stopped by signal; verified pieces are on disk\n');
      return ExitCode.FAILURE;
    }
    const torkError = toTorkError(error);
    if (json)
      io.stdout(`${JSON.stringify({ event: 'error', time: Date.now(), error: torkError.toPlain() })}\n`);
    io.stderr(`tork download: ${oneLine(torkError)}\n`);
    return ExitCode.FAILURE;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
