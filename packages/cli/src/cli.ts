import { TORK_VERSION } from '@tork/core';
import { benchUsage, runBenchCommand } from './commands/bench.js';
import { createUsage, runCreate } from './commands/create.js';
import { demoUsage, runDemo } from './commands/demo.js';
import { downloadUsage, runDownload, runSeed, seedUsage } from './commands/download.js';
import { infoUsage, runInfo } from './commands/info.js';
import { type CliIo, ExitCode, processIo } from './io.js';

const usage = `tork: a BitTorrent client on worker-thread actors

commands:
  ${downloadUsage.replace('usage: ', '')}
      download a torrent into DIR, verifying every piece; exit status 0 only when complete
      --peers shows the per-peer view (press p to toggle on a terminal); --json prints NDJSON events
  ${seedUsage.replace('usage: ', '')}
      check the data in DIR (laid out as download --out writes it) and serve it to peers;
      --seed-ratio / --seed-time stop it, else Ctrl-C
  ${demoUsage.replace('usage: ', '')}
      the main job on one machine: a cached data set, a loopback swarm of tork seeders,
      a download with progress, and a byte-for-byte check
  ${infoUsage.replace('usage: ', '')}
      print a torrent's name, info-hash, sizes, trackers and files
  ${createUsage.replace('usage: ', '')}
      make a .torrent from a file or directory (pieces hashed on all cores; same input, same bytes)
  ${benchUsage.replace('usage: ', '')}
      benchmark: a cached data set, a loopback swarm, downloads by tork (and --compare clients)
      measured for wall time, MB/s, CPU and peak RSS, every byte verified (docs/performance.md)

options:
  -h, --help     this text
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
    case 'demo':
      return runDemo(rest, io);
    case 'create':
      return runCreate(rest, io);
    case 'bench':
      return runBenchCommand(rest, io);
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
