import type { Torrent } from '@tork/core';
import type { AnyCommandHelp } from '../help.js';

/**
 * A command built on `tork download` (`tork stream`): the same options and run, plus its own
 * options and hooks into the run. The run goes on after completion until a signal.
 */
export interface DownloadExtension {
  /** `tork stream`: the prefix of its messages. */
  readonly name: string;
  /** Its help; its options include every one of `downloadOptions`. */
  readonly help: AnyCommandHelp;
  /** `--out` when not given. */
  readonly defaultOut: string;
  /** Reads its own options from the parsed values; throws TORK_ERR_USAGE. */
  parse(values: Readonly<Record<string, unknown>>): void;
  /** The torrent runs (files ready, data on disk checked): start what it adds. */
  running(torrent: Torrent, output: 'json' | 'text' | 'quiet'): Promise<void>;
  /** First thing when the run ends, before the engine closes; may be called twice. */
  close(): Promise<void>;
}
