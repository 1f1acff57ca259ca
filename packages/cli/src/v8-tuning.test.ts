import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { INTERRUPT_BUDGET, tiersUpByInterruptBudget, tuneV8 } from './v8-tuning.js';

describe('tuneV8', () => {
  it("raises the tier-up budget to 4× V8's default unless told not to", () => {
    assert.equal(INTERRUPT_BUDGET, 4 * 67_584);
    // The running V8's own answer: setting the flag for real is only tried where it exists.
    assert.equal(tuneV8({}, []), tiersUpByInterruptBudget(process.versions.v8));
    assert.equal(tuneV8({ TORK_V8_DEFAULTS: '1' }, []), false, "TORK_V8_DEFAULTS=1 keeps V8's default");
    assert.equal(
      tuneV8({}, ['--interrupt-budget=1000']),
      false,
      'a budget given to Node on its command line is left alone',
    );
  });

  it('leaves a V8 without --interrupt-budget (V8 12, Node 22) alone', () => {
    assert.equal(tiersUpByInterruptBudget('11.3.244.8-node.33'), true);
    assert.equal(tiersUpByInterruptBudget('12.4.254.21-node.21'), false);
    assert.equal(tiersUpByInterruptBudget('13.6.233.10-node.20'), false);
    assert.equal(tuneV8({}, [], '12.4.254.21-node.21'), false);
  });
});
