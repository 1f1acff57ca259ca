import { TORK_VERSION } from '@tork/core/internal/version.js';
import { type CliIo, ExitCode, processIo } from './io.js';

// main.js takes this from the module it runs the command with: the io whose stdout it guards.
export { stopWhenStdoutCloses } from './io.js';

type RunCommand = (args: readonly string[], io: CliIo) => Promise<ExitCode>;

/**
 * Each command's code, loaded when that command runs and not before. Why: importing every command
 * up front cost `tork --version`, `info` or `remote` 0.35–0.4 s of module loading (the daemon's
 * HTTP stack, the bench, the engine); with the bundle (scripts/bundle.mjs) each command's code is
 * a chunk of its own (docs/performance.md, "Issue 17, 2026-12-05, sixth session").
 */
const commands: Readonly<Record<string, () => Promise<RunCommand>>> = {
  info: async () => (await import('./commands/info.js')).runInfo,
  download: async () => (await import('./commands/download.js')).runDownload,
  seed: async () => (await import('./commands/download.js')).runSeed,
  stream: async () => (await import('./commands/stream.js')).runStream,
  daemon: async () => (await import('./commands/daemon.js')).runDaemon,
  remote: async () => (await import('./commands/remote.js')).runRemote,
  demo: async () => (await import('./commands/demo.js')).runDemo,
  create: async () => (await import('./commands/create.js')).runCreate,
  bench: async () => (await import('./commands/bench.js')).runBenchCommand,
  'trace-summary': async () => (await import('./commands/trace-summary.js')).runTraceSummary,
};

/** Runs one `tork` command line and resolves to its exit status; never throws. */
export async function runCli(argv: readonly string[], io: CliIo = processIo): Promise<ExitCode> {
  const [command, ...rest] = argv;
  // Own keys only: `tork toString` is an unknown command, not Object.prototype's.
  const load = command !== undefined && Object.hasOwn(commands, command) ? commands[command] : undefined;
  if (load) return (await load())(rest, io);
  switch (command) {
    case undefined:
    case '-h':
    case '--help':
    case 'help': {
      const { cliUsage } = await import('./command-help.js');
      (command === undefined ? io.stderr : io.stdout)(cliUsage);
      return command === undefined ? ExitCode.BAD_INPUT : ExitCode.OK;
    }
    case '-v':
    case '--version':
      io.stdout(`tork ${TORK_VERSION}\n`);
      return ExitCode.OK;
    default: {
      const { cliUsage } = await import('./command-help.js');
      io.stderr(`tork: unknown command '${command}'\n${cliUsage}`);
      return ExitCode.BAD_INPUT;
    }
  }
}
