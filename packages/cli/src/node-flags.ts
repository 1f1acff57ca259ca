/**
 * The Node flags tork runs with: in its launcher's shebang (`packages/cli/src/main.ts`, which
 * pnpm's and npm's bin shims copy), in `pnpm tork`, and for the tork processes `tork bench` and
 * `tork demo` start. `--max-semi-space-size=8` caps each thread's young-generation semi-space at
 * 8 MiB (Node 20 lets it grow to 16 MiB, in the main thread and in every worker: a peer host
 * allocating a block per message grows it to the cap). Measured on the 200,000-piece set:
 * peak RSS 329 → 279–287 MiB at the same CPU (±2 %; docs/performance.md "Start-up, third pass").
 * A V8 flag is process-wide, so worker threads take it too (startWorker leaves it out of their
 * `execArgv`, where Node refuses it).
 */
export const TORK_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8'];

/**
 * The flags `tork bench` and `tork demo` start tork with: TORK_NODE_FLAGS, or the environment's
 * `TORK_NODE_FLAGS` (space-separated; empty for none) to compare.
 */
export function torkNodeFlags(): string[] {
  const override = process.env.TORK_NODE_FLAGS;
  if (override === undefined) return [...TORK_NODE_FLAGS];
  return override.split(/\s+/).filter(Boolean);
}
