/**
 * Why DOUBLE_ZERO exists, checked on the V8 this runs on: a field started as the small integer 0
 * changes its objects' hidden class (map) at the first double stored, one started as DOUBLE_ZERO
 * keeps it. `%HaveSameMap` needs --allow-natives-syntax, so the check runs in a child process.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { DOUBLE_ZERO } from './double-zero.js';

const script = `
const DOUBLE_ZERO = ${Object.is(DOUBLE_ZERO, -0) ? '-0' : String(DOUBLE_ZERO)};
class StartsSmi { #at = 0; set(v) { this.#at = v; } get at() { return this.#at; } }
class StartsDouble { #at = DOUBLE_ZERO; set(v) { this.#at = v; } get at() { return this.#at; } }
const s1 = new StartsSmi(), s2 = new StartsSmi();
s2.set(performance.now() + 0.5);
const d1 = new StartsDouble(), d2 = new StartsDouble();
d2.set(performance.now() + 0.5);
d2.set(0);
console.log(JSON.stringify({ smiKeepsMap: %HaveSameMap(s1, s2), doubleKeepsMap: %HaveSameMap(d1, d2), zeroBack: Object.is(d2.at, 0) }));
`;

describe('DOUBLE_ZERO', () => {
  it('is zero for arithmetic and comparisons', () => {
    assert.ok(DOUBLE_ZERO === 0);
    assert.equal(DOUBLE_ZERO + 5, 5);
    assert.equal(1_000 - DOUBLE_ZERO >= 1_000, true);
  });

  it('keeps a class its hidden class when a double is stored; the small integer 0 does not', () => {
    const out = execFileSync(
      process.execPath,
      ['--allow-natives-syntax', '--input-type=module', '-e', script],
      {
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    assert.deepEqual(JSON.parse(out), { smiKeepsMap: false, doubleKeepsMap: true, zeroBack: true });
  });
});

describe('byte counts past 2^31 stay small integers where they can', () => {
  it("PieceScheduler's last piece size (length a heap number) is a small integer, so its counters stay small integers", () => {
    const schedulerUrl = new URL('./scheduler/piece-scheduler.js', import.meta.url).href;
    const rngUrl = new URL('./scheduler/rng.js', import.meta.url).href;
    const check = `
const { PieceScheduler } = await import(${JSON.stringify(schedulerUrl)});
const { createRng } = await import(${JSON.stringify(rngUrl)});
const pieceLength = 1 << 20;
const length = 2 ** 31 + 12_345; // a heap number, past V8's small integers
const pieceCount = Math.ceil(length / pieceLength);
const scheduler = new PieceScheduler({ pieceCount, pieceLength, length, rng: createRng(1) });
const last = scheduler.pieceSize(pieceCount - 1);
console.log(JSON.stringify({ last, smi: %IsSmi(last) }));
`;
    const out = execFileSync(
      process.execPath,
      ['--allow-natives-syntax', '--input-type=module', '-e', check],
      {
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    assert.deepEqual(JSON.parse(out), { last: 12_345, smi: true });
  });
});
