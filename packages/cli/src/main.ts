#!/usr/bin/env node
import { existsSync } from 'node:fs';

// `download` and `seed` load only their own code: the other commands (daemon, web, bench, remote,
// demo) cost start-up time and nothing else (docs/performance.md "Start-up").
const [command, ...rest] = process.argv.slice(2);
if (command === 'download' || command === 'seed') {
  // Before any thread or bundle exists: the tier-up budget every isolate of the process uses. A
  // download's start-up is a large part of its CPU; a seeder runs long, and was not measured with it.
  if (command === 'download') {
    const { tuneV8 } = await import('./v8-tuning.js');
    tuneV8();
  }
  // The peer host threads start first, from a module of Node built-ins: they load their code on
  // one core while this thread loads its own (below) on the other.
  const { eagerPeerHosts, prestartPeerHosts, workersFromArgs } = await import(
    '@tork/workers/peer-host-threads'
  );
  const workers = workersFromArgs(rest);
  const peerHosts = prestartPeerHosts(workers, eagerPeerHosts(workers));
  // One bundled module (scripts/bundle.mjs, written by `pnpm run build`) loads in a quarter of the
  // time of the ~300 compiled modules it holds; those stay the fallback of a plain `tsc -b` build.
  const bundle = new URL('./bundle/download.js', import.meta.url);
  const entry: typeof import('./download-entry.js') = existsSync(bundle)
    ? await import(bundle.href)
    : await import('./download-entry.js');
  // The bundle's own copy of io.js: the one whose processIo the command writes through.
  entry.stopWhenStdoutCloses();
  process.exitCode = await entry.runDownload(rest, entry.processIo, command, undefined, peerHosts);
  // Not adopted (the command ended before it started its engine, or with other settings).
  for (const host of peerHosts) void host.worker.terminate();
} else {
  // The other commands: one bundled module too, each command's code a chunk loaded when it runs.
  const bundle = new URL('./bundle/cli.js', import.meta.url);
  const cli: typeof import('./cli.js') = existsSync(bundle)
    ? await import(bundle.href)
    : await import('./cli.js');
  cli.stopWhenStdoutCloses();
  process.exitCode = await cli.runCli(process.argv.slice(2));
}
