/**
 * tork's test kit: the simulated swarm and ActorSystem, the scheduler simulation, torrent fixtures
 * and invariant checks. Test-only: no shipped package depends on it, and `pnpm pack` of the
 * published packages contains none of it (a test checks).
 */
export { EventQueue } from './event-queue.js';
export * from './faulty-fs.js';
export { readBack } from './read-back.js';
export { checkSchedulerInvariants } from './scheduler-invariants.js';
export * from './scheduler-simulation.js';
export { ScriptedActorSystem } from './scripted-actor-system.js';
export * from './seeding-add-torrent.js';
export * from './simulated-actor-system.js';
export * from './swarm.js';
export { tempDir } from './temp-dir.js';
export * from './torrent-fixtures.js';
export { EventLog } from './workers/event-log.js';

import type { RogueMode } from './workers/rogue-host/rogue-host.js';

export * from './workers/scripted-seeder.js';
export type { RogueMode };

/** Worker entries for thread tests (compiled `.js`, resolved beside this file). */
export const echoWorkerUrl = new URL('./workers/echo-worker.js', import.meta.url);
/** A misbehaving peer host entry (see `workers/rogue-host-worker.ts` for the modes). */
export function rogueHostWorkerUrl(mode: RogueMode = 'malformed'): URL {
  return new URL(`./workers/rogue-host/${mode}.js`, import.meta.url);
}
export * from './prometheus-text.js';
