import type { EventEmitter } from 'node:events';
import type { Bitfield } from '../bitfield.js';
import { DiskWriter, syncWriteMaxCallsFor } from '../disk/disk-writer.js';
import { TorrentResume } from '../resume/torrent-resume.js';
import { SMALL_PIECE_BYTES } from '../scheduler/piece-scheduler.js';
import { torrentV2Checks } from './add-torrent-command.js';
import type { TorrentEventMap } from './torrent-events.js';
import type { TorrentContext, TorrentMeta, TorrentOptions } from './torrent-options.js';

/** The torrent whose files and resume state are opened. */
export interface StorageOwner {
  readonly meta: TorrentMeta;
  readonly outDir: string;
  /** Per file, false = skipped (not created; its shared bytes go to the part file). */
  readonly selected: readonly boolean[];
  /** Resume reports become the torrent's `resumed`, `checked` and `resume-warning` events. */
  readonly events: Pick<EventEmitter<TorrentEventMap>, 'emit'>;
}

/**
 * Opens a torrent's files, then its resume state: what is verified on disk already is neither
 * fetched again nor lost. `opened` gets the files as soon as they are open, so that a torrent
 * whose resume step fails still closes them when stopped.
 */
export async function openTorrentStorage(
  owner: StorageOwner,
  options: TorrentOptions,
  ctx: TorrentContext,
  opened: (disk: DiskWriter) => void,
): Promise<{ disk: DiskWriter; resume: TorrentResume; have: Bitfield }> {
  const { meta, outDir, events } = owner;
  const disk = await DiskWriter.open({
    root: outDir,
    layout: meta,
    maxQueuedBytes: options.maxQueuedWriteBytes,
    selected: owner.selected,
    partFileName: `${meta.infoHashHex}.parts`,
    // The scheduler's small pieces, written in runs of neighbours: whole runs on this thread.
    syncWriteMaxCalls: syncWriteMaxCallsFor(meta.pieceLength, SMALL_PIECE_BYTES),
  });
  opened(disk);
  const v2Checks = torrentV2Checks(meta);
  const { resume, have } = await TorrentResume.open({
    meta,
    disk,
    outDir,
    dir: options.resumeDir,
    hasher: ctx.hasher,
    ...(v2Checks ? { v2Checks } : {}),
    saveIntervalMs: options.resumeSaveIntervalMs,
    report: {
      resumed: (info) => events.emit('resumed', info),
      checked: (info) => events.emit('checked', info),
      warning: (message) => events.emit('resume-warning', { message }),
    },
  });
  return { disk, resume, have };
}
