import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UtpDelayHistory } from './utp-delay-history.js';

describe('UtpDelayHistory', () => {
  it('measures queuing delay above the least difference seen, whatever the clock offset', () => {
    for (const offset of [0, 1_000_000, 0xffff_ff00, 0x8000_0000]) {
      const history = new UtpDelayHistory();
      const at = (micros: number) => (offset + micros) >>> 0;
      history.add(at(20_000), 0);
      assert.equal(history.add(at(20_000), 10), 0);
      // Three samples 50 ms above the base: the estimate is the least of the last three.
      history.add(at(70_000), 20);
      history.add(at(70_000), 30);
      assert.equal(history.add(at(70_000), 40), 50_000, `offset ${offset}`);
      // A sample below the base lowers it (the clock offset wraps past 2^32 for some offsets).
      history.add(at(10_000), 50);
      assert.equal(history.delayMicros, 0);
      assert.equal(history.add(at(10_000 + 300), 60), 0, 'least of the last three');
    }
  });

  it('forgets a base older than ~2 minutes (a route that got slower is not queuing forever)', () => {
    const history = new UtpDelayHistory();
    history.add(10_000, 0);
    for (let minute = 1; minute <= 4; minute++) {
      for (let i = 0; i < 3; i++) history.add(60_000, minute * 60_000 + i);
    }
    assert.equal(history.delayMicros, 0, 'the old 10 ms base aged out');
    assert.equal(history.add(70_000, 4 * 60_000 + 10), 0);
    history.add(70_000, 4 * 60_000 + 20);
    assert.equal(history.add(70_000, 4 * 60_000 + 30), 10_000);
  });
});
