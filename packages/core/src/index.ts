export * from './errors.js';
export * from './bencode/index.js';
export { Bitfield } from './bitfield.js';
export type { ActorSystem } from './engine/actor-system.js';
export * from './messages/index.js';
export * from './tracker/index.js';
