import { TORK_VERSION } from '@tork/core';
import { benchHelp, runBenchCommand } from './commands/bench.js';
import { createHelp, runCreate } from './commands/create.js';
import { daemonHelp, runDaemon } from './commands/daemon.js';
import { demoHelp, runDemo } from './commands/demo.js';
import { runDownload, runSeed } from './commands/download.js';
import { downloadHelp, seedHelp } from './commands/download-options.js';
import { infoHelp, runInfo } from './commands/info.js';
import { remoteHelp, runRemote } from './commands/remote.js';
import { runStream, streamHelp } from './commands/stream.js';
import { runTraceSummary, traceSummaryHelp } from './commands/trace-summary.js';
import type { AnyCommandHelp } from './help.js';
import { type CliIo, ExitCode, processIo } from './io.js';

/** Every command's help (`tork NAME --help`), in the order `tork --help` lists them. */
export const commandHelp: Readonly<Record<string, AnyCommandHelp>> = {
  download: downloadHelp,
  seed: seedHelp,
  stream: streamHelp,
  daemon: daemonHelp,
  remote: remoteHelp,
  demo: demoHelp,
  info: infoHelp,
  create: createHelp,
  bench: benchHelp,
  'trace-summary': traceSummaryHelp,
};

const usage = `tork: a BitTorrent client on worker-thread actors

commands:
${Object.values(commandHelp)
  .map(
    (command) => `  ${command.usage.replace('usage: ', '')}\n${command.summary.replace(/^/gm, '      ')}\n`,
  )
  .join('')}
options:
  -h, --help     this text (tork COMMAND --help: the command's options and their defaults)
  -v, --version  tork's version
`;

/** Runs one `tork` command line and resolves to its exit status; never throws. */
export async function runCli(argv: readonly string[], io: CliIo = processIo): Promise<ExitCode> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'info':
      return runInfo(rest, io);
    case 'download':
      return runDownload(rest, io);
    case 'seed':
      return runSeed(rest, io);
    case 'stream':
      return runStream(rest, io);
    case 'daemon':
      return runDaemon(rest, io);
    case 'remote':
      return runRemote(rest, io);
    case 'demo':
      return runDemo(rest, io);
    case 'create':
      return runCreate(rest, io);
    case 'bench':
      return runBenchCommand(rest, io);
    case 'trace-summary':
      return runTraceSummary(rest, io);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      (command === undefined ? io.stderr : io.stdout)(usage);
      return command === undefined ? ExitCode.BAD_INPUT : ExitCode.OK;
    case '-v':
    case '--version':
      io.stdout(`tork ${TORK_VERSION}\n`);
      return ExitCode.OK;
    default:
      io.stderr(`tork: unknown command '${command}'\n${usage}`);
      return ExitCode.BAD_INPUT;
  }
}
