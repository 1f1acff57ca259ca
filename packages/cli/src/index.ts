export { TORK_VERSION } from '@tork/core';
export { runCli } from './cli.js';
export { commandHelp } from './command-help.js';
export { type InfoJson, infoJson } from './commands/info.js';
export { ApiClient } from './daemon/api-client.js';
export * from './daemon/api-schemas.js';
export { MAX_STATE_FILE_BYTES, STATE_FILE, stateFileSchema } from './daemon/daemon-state.js';
export { MAX_EVENT_CLIENTS, MAX_EVENT_QUEUE } from './daemon/event-hub.js';
export {
  type Dataset,
  type DatasetOptions,
  datasetFileSizes,
  ensureDataset,
  linkDatasetFiles,
  verifyDownload,
} from './demo/dataset.js';
export { listensOn } from './demo/listening-pid.js';
export { type Aria2SeederOptions, type Seeder, startAria2Seeder } from './demo/seeders.js';
export type { AnyCommandHelp, OptionHelp, OptionSpecs } from './help.js';
export { type CliIo, ExitCode } from './io.js';
