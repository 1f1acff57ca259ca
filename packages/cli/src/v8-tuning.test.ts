import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { INTERRUPT_BUDGET, tuneV8 } from './v8-tuning.js';

describe('tuneV8', () => {
  it("raises the tier-up budget to 4× V8's default unless told not to", () => {
    assert.equal(INTERRUPT_BUDGET, 4 * 67_584);
    assert.equal(tuneV8({}, []), true);
    assert.equal(tuneV8({ TORK_V8_DEFAULTS: '1' }, []), false, "TORK_V8_DEFAULTS=1 keeps V8's default");
    assert.equal(
      tuneV8({}, ['--interrupt-budget=1000']),
      false,
      'a budget given to Node on its command line is left alone',
    );
  });
});
