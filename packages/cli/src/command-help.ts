import { benchHelp } from './commands/bench.js';
import { createHelp } from './commands/create.js';
import { daemonHelp } from './commands/daemon.js';
import { demoHelp } from './commands/demo.js';
import { downloadHelp, seedHelp } from './commands/download-options.js';
import { infoHelp } from './commands/info.js';
import { remoteHelp } from './commands/remote.js';
import { streamHelp } from './commands/stream.js';
import { traceSummaryHelp } from './commands/trace-summary.js';
import type { AnyCommandHelp } from './help.js';

// Every command's module, for its help: loaded by `tork --help` (and the library), never by a
// command that runs (cli.ts loads only that command's code).

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

/** What `tork --help` prints: every command's usage and summary, then the global options. */
export const cliUsage = `tork: a BitTorrent client on worker-thread actors

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
