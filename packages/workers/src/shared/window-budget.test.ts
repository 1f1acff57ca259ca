import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WindowBudget } from './window-budget.js';

function takeMany(budget: WindowBudget, now: number, count: number): number {
  let taken = 0;
  for (let i = 0; i < count; i++) if (budget.take(now)) taken++;
  return taken;
}

describe('WindowBudget', () => {
  it('allows the limit per window, the first window opening at the first event', () => {
    const budget = new WindowBudget(10);
    // Astride 1 s of a clock that starts at 0: one window (opened at 990), one budget.
    assert.equal(takeMany(budget, 990, 8), 8);
    assert.equal(takeMany(budget, 1_010, 8), 2);
    assert.equal(takeMany(budget, 1_989, 5), 0);
    // The window opened at 990 ends at 1,990: a new budget, and the new window opens there.
    assert.equal(takeMany(budget, 1_990, 15), 10);
    assert.equal(takeMany(budget, 2_989, 1), 0);
    assert.equal(takeMany(budget, 2_990, 1), 1);
  });

  it('takes its window length, and a limit of 0 allows nothing', () => {
    const budget = new WindowBudget(2, 100);
    assert.equal(takeMany(budget, 0, 3), 2);
    assert.equal(takeMany(budget, 100, 3), 2);
    assert.equal(takeMany(new WindowBudget(0), 5, 3), 0);
  });
});
