import { setFlagsFromString } from 'node:v8';

/**
 * V8's tier-up budget for `tork download`: bytecode a function must run before
 * it is queued for the optimizing compiler (TurboFan), 4× V8's default (67,584). Why: a fresh
 * download process optimized ~140 functions, many of them start-up code that ran hot for a moment
 * (parsing, file layout, path handling); TurboFan compiling them was about a fifth of the CPU of a
 * 256 MiB download in 16 KiB pieces. With 4× the budget only code that keeps running is
 * optimized: V8's helper threads −40 % CPU, the coordinator and peer host slightly slower until
 * their hot loops tier up, the whole process −4 to −10 % CPU and no slower (docs/performance.md,
 * "Issue 17, seventh session"). 2× saved less; 8× and 16× ran slower.
 */
export const INTERRUPT_BUDGET = 4 * 67_584;

/**
 * The V8 generations whose tier-up is driven by `--interrupt-budget`: V8 11 (Node 20). V8 12 (Node
 * 22) tiers up by invocation counts and has no such flag (setting it prints "Error: unrecognized
 * flag" on stderr); raising its `--invocation-count-for-turbofan` 4× made the same 16 KiB download
 * cost more CPU, not less (docs/performance.md, "Issue 17, eighth session"), so it is left alone.
 */
export function tiersUpByInterruptBudget(v8Version: string): boolean {
  return Number(v8Version.split('.')[0]) <= 11;
}

/**
 * Sets the budget before any other thread exists (V8 flags are process-wide: the peer hosts and
 * the UDP host inherit it). Not when `TORK_V8_DEFAULTS=1` (to measure against V8's default), nor
 * when Node was started with an `--interrupt-budget` of its own, nor on a V8 without the flag
 * (see tiersUpByInterruptBudget). Returns whether it set it.
 */
export function tuneV8(
  env: NodeJS.ProcessEnv = process.env,
  execArgv: readonly string[] = process.execArgv,
  v8Version: string = process.versions.v8,
): boolean {
  if (env.TORK_V8_DEFAULTS === '1') return false;
  if (execArgv.some((arg) => arg.startsWith('--interrupt-budget'))) return false;
  if (!tiersUpByInterruptBudget(v8Version)) return false;
  setFlagsFromString(`--interrupt-budget=${INTERRUPT_BUDGET}`);
  return true;
}
