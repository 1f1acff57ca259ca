import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TorkError, TorkErrorCode, type Torrent } from '@tork/core';
import type { CommandHelp } from '../help.js';
import type { CliIo, ExitCode } from '../io.js';
import { StreamServer } from '../stream/stream-server.js';
import { runDownload } from './download.js';
import type { DownloadExtension } from './download-extension.js';
import { downloadHelp, downloadOptions } from './download-options.js';

export const streamUsage =
  'usage: tork stream <file.torrent|magnet> [--file N] [--listen 127.0.0.1:PORT] [--out DIR] [any option of tork download]';

/** Where `tork stream` puts the data when no `--out` is given. */
const DEFAULT_STREAM_OUT = join(tmpdir(), 'tork-stream');
const DEFAULT_LISTEN = '127.0.0.1:0';

const streamOptions = {
  ...downloadOptions,
  file: { type: 'string' },
  listen: { type: 'string' },
} as const;

export const streamHelp: CommandHelp<typeof streamOptions> = {
  usage: streamUsage,
  summary:
    'download a torrent and serve its files over HTTP while it downloads: / lists them, /N and\n' +
    '/<path> serve one (Range requests too), fetching first the pieces under each reader; the\n' +
    'URLs go to stdout (--json: a stream-listening event); runs until Ctrl-C',
  options: streamOptions,
  help: {
    ...downloadHelp.help,
    out: { arg: 'DIR', text: 'directory to download into (created if need be)', default: DEFAULT_STREAM_OUT },
    sequential: {
      default: 'on, always',
      text: 'always on here: pieces outside the readers’ windows are fetched in order (from --file N’s start)',
    },
    file: {
      arg: 'N',
      text: 'the file to favour while no one reads (its number as tork info lists it, from 0): its start is fetched first',
      default: 'none',
    },
    listen: {
      arg: 'HOST:PORT',
      text: 'where the HTTP server listens (port 0: any free port; keep it on loopback)',
      default: DEFAULT_LISTEN,
    },
  },
};

/** `--listen`: `host:port` or `[v6]:port`, port 0 to 65535. */
export function parseListen(text: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text);
  const port = match ? Number(match[3]) : -1;
  if (!match || port > 65535) {
    throw new TorkError(TorkErrorCode.USAGE, `--listen must be host:port (port 0: any), got '${text}'`);
  }
  return { host: (match[1] ?? match[2])!, port };
}

/** `tork stream`: `tork download` plus the HTTP server (see `StreamServer`). */
export function runStream(args: readonly string[], io: CliIo): Promise<ExitCode> {
  let listen = parseListen(DEFAULT_LISTEN);
  let focus: number | undefined;
  let server: StreamServer | undefined;
  const extension: DownloadExtension = {
    name: 'tork stream',
    help: streamHelp,
    defaultOut: DEFAULT_STREAM_OUT,
    parse(values) {
      if (values['seed-ratio'] !== undefined || values['seed-time'] !== undefined)
        throw new TorkError(
          TorkErrorCode.USAGE,
          'tork stream runs until Ctrl-C: --seed-ratio and --seed-time do not apply',
        );
      if (typeof values.listen === 'string') listen = parseListen(values.listen);
      if (typeof values.file === 'string') {
        if (!/^\d{1,9}$/.test(values.file))
          throw new TorkError(
            TorkErrorCode.USAGE,
            `--file must be a file number from 0, got '${values.file}'`,
          );
        focus = Number(values.file);
      }
    },
    async running(torrent: Torrent, output) {
      server = new StreamServer({
        torrent,
        host: listen.host,
        port: listen.port,
        ...(focus !== undefined ? { focus } : {}),
      });
      const url = await server.listen();
      const files = server.files.map((file) => ({
        index: file.index,
        path: file.path,
        length: file.length,
        url: `${url}/${file.index}`,
      }));
      if (output === 'json') {
        io.stdout(
          `${JSON.stringify({ event: 'stream-listening', time: Date.now(), url: `${url}/`, files })}\n`,
        );
      } else if (output === 'text') {
        io.stdout(`streaming at ${url}/\n`);
        for (const file of files.slice(0, 20)) io.stdout(`  ${file.url}  ${file.path}\n`);
        if (files.length > 20) io.stdout(`  … ${files.length - 20} more at ${url}/\n`);
      }
    },
    async close() {
      const closing = server;
      server = undefined;
      await closing?.close();
    },
  };
  return runDownload(args, io, 'download', extension);
}
