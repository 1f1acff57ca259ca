/**
 * TEST ONLY: `TORK_TEST_INJECT_DELAY_MS=N` makes `tork download` spin its main thread for N ms before
 * it starts, a deliberately slowed build (more wall time and more CPU) for the test of
 * `tork bench --baseline FILE.json`'s regression gate. Read once, at the start of a download; unset
 * (as everywhere but that test) it costs one environment read.
 */
export const TEST_INJECT_DELAY_ENV = 'TORK_TEST_INJECT_DELAY_MS';

/** Spins for the test-only delay, if one is set; returns the ms spent. */
export function injectTestDelay(env: NodeJS.ProcessEnv = process.env): number {
  const ms = Number(env[TEST_INJECT_DELAY_ENV] ?? 0);
  if (!Number.isFinite(ms) || ms <= 0) return 0;
  // Busy, not a timer: a slow build costs CPU as well as time, so both figures of the gate move.
  const end = Date.now() + Math.min(ms, 60_000);
  while (Date.now() < end) {
    // spin
  }
  return ms;
}
