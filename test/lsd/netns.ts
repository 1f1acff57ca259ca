/**
 * A private network namespace for tests that would otherwise send packets beyond this machine
 * (LSD multicast): it has only `lo` — up, multicast on, 224.0.0.0/4 routed through it from
 * 127.0.0.1 — so whatever runs in it reaches nothing but itself. Needs `unshare`, `nsenter` and
 * `ip`, and the right to create a namespace (root, or CAP_SYS_ADMIN); without them the test is
 * skipped with the reason printed, or fails under CI=true.
 */
import { readlinkSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { sh, skipOrFail } from '../faults/support.js';
import { requireProgram, type StartedProgram, startProgram } from '../support/programs.js';

export interface PrivateNetns {
  /** PID of the process that holds the namespace (a `sleep` under `unshare --net`). */
  readonly pid: number;
  /** The command line that runs `command …args` inside the namespace (nsenter execs it: same PID). */
  wrap(command: string, args: readonly string[]): [string, string[]];
  /** Runs a command inside the namespace to its end. */
  run(command: string, args: readonly string[]): { status: number | null; output: string };
}

/** The namespace's setup, in order: `ip` arguments. */
const SETUP: readonly (readonly string[])[] = [
  ['link', 'set', 'lo', 'up'],
  ['link', 'set', 'lo', 'multicast', 'on'],
  // From 127.0.0.1: without `src`, multicast over lo leaves from 0.0.0.0, an address no peer dials.
  ['route', 'add', '224.0.0.0/4', 'dev', 'lo', 'src', '127.0.0.1'],
];

/**
 * Creates the namespace (stopped by PID after the test) or returns undefined when the test was
 * skipped. Throws if the namespace turns out to have any interface but `lo`.
 */
export async function privateNetns(t: TestContext): Promise<PrivateNetns | undefined> {
  const unshare = requireProgram(t, 'unshare', 'util-linux');
  if (!unshare) return undefined;
  const nsenter = requireProgram(t, 'nsenter', 'util-linux');
  if (!nsenter) return undefined;
  const ip = requireProgram(t, 'ip', 'iproute2');
  if (!ip) return undefined;
  const probe = sh(unshare, ['--net', 'true']);
  if (probe.status !== 0) {
    const who = process.getuid?.() === 0 ? 'root' : 'not root';
    skipOrFail(t, `cannot create a network namespace (${who}): ${probe.output || `status ${probe.status}`}`);
    return undefined;
  }
  const holder: StartedProgram = await startProgram(unshare, ['--net', 'sleep', 'infinity']);
  t.after(() => holder.stop());
  const path = `/proc/${holder.pid}/ns/net`;
  const ours = readlinkSync('/proc/self/ns/net');
  // unshare has run once the holder's namespace is no longer ours.
  const deadline = Date.now() + 10_000;
  while (readlinkSync(path) === ours) {
    if (Date.now() > deadline) throw new Error(`pid ${holder.pid} did not enter a namespace of its own`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const netns: PrivateNetns = {
    pid: holder.pid,
    wrap: (command, args) => [nsenter, [`--net=${path}`, '--', command, ...args]],
    run: (command, args) => sh(nsenter, [`--net=${path}`, '--', command, ...args]),
  };
  for (const args of SETUP) {
    const result = netns.run(ip, args);
    if (result.status !== 0) {
      skipOrFail(t, `cannot set up the namespace: ip ${args.join(' ')}: ${result.output}`);
      return undefined;
    }
  }
  const links = netns.run(ip, ['-o', 'link', 'show']);
  const names = links.output
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(':')[1]?.trim().replace(/@.*/, ''));
  if (links.status !== 0 || names.length !== 1 || names[0] !== 'lo') {
    throw new Error(`the private namespace has interfaces beyond lo: ${links.output}`);
  }
  return netns;
}
