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
export * from './simulated-actor-system.js';
export * from './swarm.js';
export { tempDir } from './temp-dir.js';
export * from './torrent-fixtures.js';
export { EventLog } from './workers/event-log.js';
export * from './workers/scripted-seeder.js';

/** Worker entries for thread tests (compiled `.js`, resolved beside this file). */
export const echoWorkerUrl = new URL('./workers/echo-worker.js', import.meta.url);
export const rogueHostWorkerUrl = new URL('./workers/rogue-host-worker.js', import.meta.url);
