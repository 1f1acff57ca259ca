import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { TorkError, TorkErrorCode, toTorkError } from '@tork/core';
import { intOption, oneLine } from '../args.js';
import { ApiClient } from '../daemon/api-client.js';
import {
  MAX_API_MAX_PEERS,
  MAX_API_UPLOAD_SLOTS,
  okBody,
  sessionBody,
  torrentList,
  torrentSummary,
} from '../daemon/api-schemas.js';
import { formatBytes } from '../format.js';
import { type CommandHelp, printedHelp } from '../help.js';
import { type CliIo, ExitCode } from '../io.js';
import { formatRate } from '../progress/render.js';
import { DEFAULT_RPC_LISTEN } from './daemon.js';
import { rateOption } from './download.js';

const options = {
  rpc: { type: 'string' },
  'rpc-token': { type: 'string' },
  json: { type: 'boolean', default: false },
  'download-dir': { type: 'string' },
  paused: { type: 'boolean', default: false },
  peer: { type: 'string', multiple: true },
  'delete-data': { type: 'boolean', default: false },
  'max-peers': { type: 'string' },
  'upload-slots': { type: 'string' },
  'max-download': { type: 'string' },
  'max-upload': { type: 'string' },
} as const;

export const remoteHelp: CommandHelp<typeof options> = {
  usage:
    'usage: tork remote [--rpc URL] add FILE|MAGNET… | list | pause ID | resume ID | remove ID [--delete-data] | limits ID|session [--max-peers N] [--upload-slots N] [--max-download RATE] [--max-upload RATE]',
  summary:
    'drive a running tork daemon: add, list, pause, resume, remove torrents (ID: info-hash or a unique prefix)',
  options,
  help: {
    rpc: { arg: 'URL', text: "the daemon's API", default: `http://${DEFAULT_RPC_LISTEN}, or $TORK_RPC` },
    'rpc-token': { arg: 'TOKEN', text: "the daemon's --rpc-token", default: '$TORK_RPC_TOKEN, else none' },
    json: { text: 'list: print the API answer as JSON' },
    'download-dir': {
      arg: 'DIR',
      text: 'add: output directory (on the daemon)',
      default: "the daemon's --download-dir",
    },
    paused: { text: 'add: add without starting' },
    peer: { arg: 'host:port', text: 'add: a peer to dial (repeatable)', default: 'none' },
    'delete-data': { text: "remove: delete the torrent's files too" },
    'max-peers': {
      arg: 'N',
      text: "limits: most peer connections of the torrent (or, with 'session', of all together)",
      default: 'unchanged',
    },
    'upload-slots': {
      arg: 'N',
      text: "limits: regular upload slots of the torrent (or of all together; 0 with 'session': no cap)",
      default: 'unchanged',
    },
    'max-download': {
      arg: 'RATE',
      text: "limits: download cap, e.g. 10MiB; 'none' lifts it",
      default: 'unchanged',
    },
    'max-upload': {
      arg: 'RATE',
      text: "limits: upload cap, e.g. 2MiB; 'none' lifts it",
      default: 'unchanged',
    },
  },
};

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** `tork remote`: one API call (a few for `add` with several torrents) and a line or a table. */
export async function runRemote(args: readonly string[], io: CliIo): Promise<ExitCode> {
  if (printedHelp(args, io, remoteHelp)) return ExitCode.OK;
  try {
    const { values, positionals } = parseArgs({
      args: [...args],
      options,
      allowPositionals: true,
      strict: true,
    });
    const [command, ...rest] = positionals;
    const client = new ApiClient(
      values.rpc ?? process.env.TORK_RPC ?? `http://${DEFAULT_RPC_LISTEN}`,
      values['rpc-token'] ?? process.env.TORK_RPC_TOKEN,
    );
    const one = () => {
      if (rest.length !== 1) throw new TorkError(TorkErrorCode.USAGE, `${command} takes one torrent ID`);
      return encodeURIComponent(rest[0]!);
    };
    switch (command) {
      case 'add': {
        if (rest.length === 0)
          throw new TorkError(TorkErrorCode.USAGE, 'add takes .torrent files or magnet links');
        for (const item of rest) {
          const source = item.startsWith('magnet:')
            ? { magnet: item }
            : { metainfo: (await readFile(item)).toString('base64') };
          const added = await client.call('POST', '/torrents', torrentSummary, {
            ...source,
            ...(values['download-dir'] ? { downloadDir: values['download-dir'] } : {}),
            paused: values.paused,
            ...(values.peer ? { peers: values.peer } : {}),
          });
          io.stdout(`added ${added.id} ${added.name}${added.paused ? ' (paused)' : ''}\n`);
        }
        return ExitCode.OK;
      }
      case 'list': {
        const { torrents } = await client.call('GET', '/torrents', torrentList);
        if (values.json) {
          io.stdout(`${JSON.stringify({ torrents })}\n`);
          return ExitCode.OK;
        }
        const rows = [
          ['ID', 'DONE', 'SIZE', 'DOWN', 'UP', 'PEERS', 'STATE', 'NAME'],
          ...torrents.map((torrent) => [
            torrent.id.slice(0, 8),
            `${(torrent.progress * 100).toFixed(1)}%`,
            formatBytes(torrent.length),
            formatRate(torrent.downloadRate),
            formatRate(torrent.uploadRate),
            String(torrent.peers),
            torrent.state,
            torrent.name,
          ]),
        ];
        io.stdout(`${table(rows)}\n`);
        return ExitCode.OK;
      }
      case 'pause':
      case 'resume':
        await client.call('POST', `/torrents/${one()}/${command}`, okBody);
        io.stdout(`${command === 'pause' ? 'paused' : 'resumed'} ${rest[0]}\n`);
        return ExitCode.OK;
      case 'remove':
        await client.call('DELETE', `/torrents/${one()}?deleteData=${values['delete-data']}`, okBody);
        io.stdout(`removed ${rest[0]}${values['delete-data'] ? ' and its data' : ''}\n`);
        return ExitCode.OK;
      case 'limits': {
        const session = rest.length === 1 && rest[0] === 'session';
        const path = session ? '/session/limits' : `/torrents/${one()}/limits`;
        // The API takes a rate left out as uncapped: the current caps are sent again unless changed.
        const current = session
          ? await client.call('GET', '/session', sessionBody)
          : await client.call('GET', `/torrents/${one()}`, torrentSummary.loose());
        const rate = (name: 'max-download' | 'max-upload', old: number | undefined) => {
          const value = values[name];
          if (value === undefined) return old ?? null;
          return value === 'none' ? null : rateOption(value, name)!;
        };
        const body = {
          download: rate('max-download', current.rateLimits.download),
          upload: rate('max-upload', current.rateLimits.upload),
          ...(values['max-peers'] !== undefined
            ? { maxPeers: intOption(values['max-peers'], 'max-peers', 1, MAX_API_MAX_PEERS, 0) }
            : {}),
          ...(values['upload-slots'] !== undefined
            ? {
                uploadSlots: intOption(values['upload-slots'], 'upload-slots', 0, MAX_API_UPLOAD_SLOTS, 0),
              }
            : {}),
        };
        await client.call('PUT', path, okBody, body);
        const after = session
          ? await client.call('GET', '/session', sessionBody)
          : await client.call('GET', `/torrents/${one()}`, torrentSummary.loose());
        const shown = (bytes: number | undefined) => (bytes ? formatRate(bytes) : 'none');
        io.stdout(
          `limits of ${session ? 'the session' : rest[0]}: max-peers ${after.maxPeers}, upload-slots ` +
            `${after.uploadSlots ?? 'none'}, max-download ${shown(after.rateLimits.download)}, ` +
            `max-upload ${shown(after.rateLimits.upload)}\n`,
        );
        return ExitCode.OK;
      }
      default:
        throw new TorkError(
          TorkErrorCode.USAGE,
          command ? `unknown remote command '${command}'` : 'expected a command',
        );
    }
  } catch (error) {
    const torkError = toTorkError(error, TorkErrorCode.USAGE);
    io.stderr(`tork remote: ${oneLine(torkError)}\n`);
    if (torkError.code === TorkErrorCode.USAGE) io.stderr(`${remoteHelp.usage}\n`);
    return torkError.code === TorkErrorCode.USAGE ? ExitCode.BAD_INPUT : ExitCode.FAILURE;
  }
}
