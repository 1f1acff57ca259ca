export {
  JOURNAL_ENTRY_BYTES,
  MAX_RESUME_APPEND_PIECES,
  MAX_RESUME_JOURNAL_BYTES,
  MAX_RESUME_PIECE_COUNT,
  MAX_RESUME_SNAPSHOT_BYTES,
  RESUME_FORMAT_VERSION,
} from './limits.js';
export { inThreadHasher, type PieceHasher } from './piece-hasher.js';
export { type CurrentFileStat, type PlanResumeInput, planResume, type ResumePlan } from './plan-resume.js';
export { nodeResumeFs, type ResumeFileHandle, type ResumeFs } from './resume-fs.js';
export { lockResumeState, type ResumeLock } from './resume-lock.js';
export {
  defaultResumeDir,
  type LoadedResume,
  RESUME_DIR_NAME,
  type ResumeSaveInput,
  type ResumeSaveOptions,
  ResumeStore,
  type ResumeStoreOptions,
} from './resume-store.js';
export { decodeSnapshot, encodeSnapshot, type ResumeFileState, type ResumeSnapshot } from './snapshot.js';
export {
  DEFAULT_RESUME_SAVE_INTERVAL_MS,
  type ResumeMeta,
  type ResumeReporter,
  TorrentResume,
  type TorrentResumeOptions,
} from './torrent-resume.js';
