export { runCli, TORK_VERSION } from './cli.js';
export { type InfoJson, infoJson } from './commands/info.js';
export { type CliIo, ExitCode } from './io.js';
