#!/usr/bin/env node
// `download` and `seed` load only their own code: the other commands (daemon, web, bench, remote,
// demo) cost start-up time and nothing else (docs/performance.md "Start-up").
const [command, ...rest] = process.argv.slice(2);
if (command === 'download' || command === 'seed') {
  const [{ runDownload }, { processIo }] = await Promise.all([
    import('./commands/download.js'),
    import('./io.js'),
  ]);
  process.exitCode = await runDownload(rest, processIo, command);
} else {
  const { runCli } = await import('./cli.js');
  process.exitCode = await runCli(process.argv.slice(2));
}
