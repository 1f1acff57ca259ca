import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { type Metainfo, parseMetainfo, type TorkError, TorkErrorCode, toTorkError } from '@tork/core';
import { formatBytes, formatCount } from '../format.js';
import { type CommandHelp, printedHelp } from '../help.js';
import { type CliIo, ExitCode } from '../io.js';

export const infoUsage = 'usage: tork info <file.torrent> [--json]';

const options = { json: { type: 'boolean', default: false } } as const;

export const infoHelp: CommandHelp<typeof options> = {
  usage: infoUsage,
  summary: "print a torrent's name, info-hash, sizes, trackers and files",
  options,
  help: { json: { text: 'print one JSON object (the InfoJson shape) instead of text' } },
};

/** The `--json` shape of `tork info`; stable for scripts. Pad files (BEP 47) are not listed. */
export interface InfoJson {
  infoHash: string;
  name: string;
  length: number;
  pieceLength: number;
  pieceCount: number;
  private: boolean;
  announce: string[];
  announceTiers: string[][];
  urlList: string[];
  files: Array<{ path: string; length: number }>;
}

export function infoJson(meta: Metainfo): InfoJson {
  return {
    infoHash: meta.infoHashHex,
    name: meta.name,
    length: meta.length,
    pieceLength: meta.pieceLength,
    pieceCount: meta.pieceCount,
    private: meta.private,
    announce: meta.announce.flat(),
    announceTiers: meta.announce.map((tier) => [...tier]),
    urlList: [...meta.urlList],
    files: meta.files
      .filter((file) => !file.pad)
      .map((file) => ({ path: file.path.join('/'), length: file.length })),
  };
}

function infoText(meta: Metainfo): string {
  const info = infoJson(meta);
  const lines = [
    `name:          ${info.name}`,
    `info-hash:     ${info.infoHash}`,
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
  lines.push(`files (${formatCount(info.files.length)}):`);
  const width = Math.max(...info.files.map((file) => formatBytes(file.length).length), 1);
  for (const file of info.files) lines.push(`  ${formatBytes(file.length).padStart(width)}  ${file.path}`);
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
    io.stderr(`tork info: expected exactly one .torrent file\n${infoUsage}\n`);
    return ExitCode.BAD_INPUT;
  }
  let meta: Metainfo;
  try {
    const bytes = await readFile(file).catch((error: unknown) => {
      throw toTorkError(error, TorkErrorCode.IO, `cannot read ${file}`);
    });
    meta = parseMetainfo(bytes);
  } catch (error) {
    const torkError = toTorkError(error);
    io.stderr(`tork info: ${file}: ${oneLine(torkError)}\n`);
    return torkError.code === TorkErrorCode.INTERNAL ? ExitCode.FAILURE : ExitCode.BAD_INPUT;
  }
  io.stdout(parsed.values.json ? `${JSON.stringify(infoJson(meta))}\n` : infoText(meta));
  return ExitCode.OK;
}

function parse(args: readonly string[]) {
  return parseArgs({
    args: [...args],
    allowPositionals: true,
    strict: true,
    options,
  });
}

/** One printable line: hostile input can carry newlines and control characters into messages. */
export function oneLine(error: TorkError): string {
  return `${error.message.replace(/[\u0000-\u001f\u007f]+/g, ' ')} [${error.code}]`;
}
