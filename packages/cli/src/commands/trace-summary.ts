import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { TorkError, TorkErrorCode, toTorkError } from '@tork/core';
import { oneLine } from '../args.js';
import { type CommandHelp, printedHelp } from '../help.js';
import { type CliIo, ExitCode } from '../io.js';
import { formatTraceSummary, summarizeTrace } from '../trace/trace-summary.js';

export const traceSummaryUsage = 'usage: tork trace-summary <trace.json> [--json]';

const options = {
  json: { type: 'boolean', default: false },
} as const;

export const traceSummaryHelp: CommandHelp<typeof options> = {
  usage: traceSummaryUsage,
  summary: 'read a trace written by --trace: time per thread, the slowest peers and why, the last 1 %',
  options,
  help: {
    json: { text: 'print one JSON object (the TraceSummary shape) instead of text' },
  },
};

export async function runTraceSummary(args: readonly string[], io: CliIo): Promise<ExitCode> {
  const name = 'tork trace-summary';
  if (printedHelp(args, io, traceSummaryHelp)) return ExitCode.OK;
  try {
    const parsed = parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
    const file = parsed.positionals[0];
    if (file === undefined || parsed.positionals.length > 1)
      throw new TorkError(TorkErrorCode.USAGE, 'expected one trace file');
    const text = await readFile(file, 'utf8').catch((error: unknown) => {
      throw toTorkError(error, TorkErrorCode.IO, `cannot read ${file}`);
    });
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new TorkError(TorkErrorCode.USAGE, `${file}: not JSON`);
    }
    const summary = summarizeTrace(value);
    io.stdout(parsed.values.json ? `${JSON.stringify(summary)}\n` : formatTraceSummary(summary));
    return ExitCode.OK;
  } catch (error) {
    const torkError = toTorkError(error, TorkErrorCode.USAGE);
    io.stderr(`${name}: ${oneLine(torkError)}\n`);
    if (torkError.code === TorkErrorCode.USAGE) io.stderr(`${traceSummaryUsage}\n`);
    return torkError.code === TorkErrorCode.USAGE ? ExitCode.BAD_INPUT : ExitCode.FAILURE;
  }
}
