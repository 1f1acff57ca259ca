import { Worker, type WorkerOptions } from 'node:worker_threads';

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
