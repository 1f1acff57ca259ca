/** Where a command writes; a seam so the CLI can be driven in-process by tests. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

let stdoutReaderGone = false;

export const processIo: CliIo = {
  // Nothing more once the reader has gone (see stopWhenStdoutCloses): each write would fail again.
  stdout: (text) => {
    if (!stdoutReaderGone) process.stdout.write(text);
  },
  stderr: (text) => process.stderr.write(text),
};

/** Whether the reader of stdout went away (a pipe's reader exited) and the command was stopped. */
export function stdoutClosed(): boolean {
  return stdoutReaderGone;
}

/**
 * Makes a closed stdout stop the command instead of crashing it. Called once by main. Why: when the
 * reader of a pipe exits (`tork seed --json | head -1`, a `jq` that failed), Node ignores SIGPIPE,
 * so the next write fails with EPIPE, an 'error' event nobody handled: the process died with a
 * stack trace, without the orderly stop a signal gives (a download's resume state saved, its
 * peers told). Now it stops as SIGTERM stops it: `download` and `seed` shut down in order, `bench`
 * and the daemon stop, and a command without a handler simply finishes. Later output is dropped.
 */
export function stopWhenStdoutCloses(): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    if (stdoutReaderGone) return;
    stdoutReaderGone = true;
    // The listeners a signal would call, without sending one: with none, the default action
    // (killing the process) must not happen.
    process.emit('SIGTERM', 'SIGTERM');
  });
}

/**
 * Exit statuses: 0 success, 1 a failure while running, 2 bad usage or bad input (e.g. a bad .torrent),
 * 3 `tork bench --baseline FILE.json` measured a regression beyond the margin.
 */
export const ExitCode = { OK: 0, FAILURE: 1, BAD_INPUT: 2, REGRESSION: 3 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
