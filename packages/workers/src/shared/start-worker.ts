import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Young generation of each peer-host and UDP-host thread, in MiB (V8 counts three semi-spaces, so
 * 12 means 4 MiB semi-spaces where Node's default grows to 16). Why: under steady allocation every
 * thread's young generation grows to its maximum, and at 200,000 pieces that was most of the peak
 * RSS above 300 MiB; the hosts' garbage is short-lived piece and message bookkeeping, so smaller
 * semi-spaces cost more scavenges but no promotion (CPU per GiB unchanged within noise, see
 * docs/performance.md). A per-thread limit, not `--max-semi-space-size`: any V8 flag makes Node
 * reject its built-in code cache in every thread and start-up pays ~50–130 ms. The coordinator
 * (the main thread) keeps V8's default: only a flag could change it.
 */
export const HOST_THREAD_YOUNG_GENERATION_MB = 12;

/**
 * A worker thread with the process's flags, minus those a worker refuses. Why: `--input-type`
 * (from `node --input-type=module -e`) and process-wide V8 flags such as `--trace-gc` or
 * `--max-semi-space-size` (which `tork`'s launcher passes: TORK_NODE_FLAGS) make `new Worker`
 * throw ERR_WORKER_INVALID_EXEC_ARGV when given in `execArgv`; V8 flags apply to every thread of
 * the process anyway.
 */
export function startWorker(entry: URL, options: Omit<WorkerOptions, 'execArgv'> = {}): Worker {
  const execArgv = process.execArgv.filter((arg) => !arg.startsWith('--input-type'));
  try {
    return new Worker(entry, { ...options, execArgv });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw error;
    const refused = String((error as Error).message.split('flags:')[1] ?? '')
      .split(',')
      .map((flag) => flag.trim().split('=')[0]!)
      .filter(Boolean);
    const kept = execArgv.filter((arg) => !refused.includes(arg.split('=')[0]!));
    return new Worker(entry, { ...options, execArgv: kept });
  }
}
