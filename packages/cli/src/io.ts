/** Where a command writes; a seam so the CLI can be driven in-process by tests. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

export const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/**
 * Exit statuses: 0 success, 1 a failure while running, 2 bad usage or bad input (e.g. a bad .torrent),
 * 3 `tork bench --baseline FILE.json` measured a regression beyond the margin.
 */
export const ExitCode = { OK: 0, FAILURE: 1, BAD_INPUT: 2, REGRESSION: 3 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
