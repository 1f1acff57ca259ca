import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as z from 'zod';
import { HostEvent } from './host-event.js';
import { DEFAULT_COMPILE_AFTER_USES, WarmingParser } from './warming-parser.js';

const Message = z.discriminatedUnion('type', [
  z.object({ type: z.literal('have'), index: z.number().int().nonnegative() }),
  z.object({ type: z.literal('note'), text: z.string().max(8).optional() }),
]);

const samples: unknown[] = [
  { type: 'have', index: 3 },
  { type: 'have', index: -1 },
  { type: 'note' },
  { type: 'note', text: 'far too long a note' },
  { type: 'other' },
  null,
  { type: 'have', index: 2, extra: true },
];

describe('WarmingParser', () => {
  it('parses with zod until the limit of uses, then compiles itself', () => {
    const parser = new WarmingParser(Message, 3);
    for (let use = 1; use <= 3; use++) {
      assert.equal(parser.safeParse({ type: 'have', index: use }).success, true);
      assert.equal(parser.compiled, false, `not compiled after ${use} uses`);
    }
    assert.equal(parser.safeParse({ type: 'have', index: 4 }).success, true);
    assert.equal(parser.compiled, true, 'compiled at the use after the limit');
  });

  it('compiles when told, once; 0 compiles at the first use', () => {
    const parser = new WarmingParser(Message);
    parser.compile();
    assert.equal(parser.compiled, true);
    parser.compile();
    const eager = new WarmingParser(Message, 0);
    eager.safeParse({ type: 'note' });
    assert.equal(eager.compiled, true);
    assert.equal(DEFAULT_COMPILE_AFTER_USES, 16);
  });

  it('gives the same data and the same first issue before and after the compile', () => {
    const plain = new WarmingParser(Message, Number.POSITIVE_INFINITY);
    const compiled = new WarmingParser(Message);
    compiled.compile();
    for (const sample of samples) {
      const a = plain.safeParse(sample);
      const b = compiled.safeParse(sample);
      assert.equal(plain.compiled, false);
      assert.equal(a.success, b.success, JSON.stringify(sample));
      if (a.success && b.success) assert.deepEqual(a.data, b.data);
      else if (!a.success && !b.success) {
        assert.deepEqual(a.error.issues[0]?.path, b.error.issues[0]?.path, JSON.stringify(sample));
        assert.equal(a.error.issues[0]?.code, b.error.issues[0]?.code, JSON.stringify(sample));
      }
    }
  });

  it('agrees with the compiled parser on the host events crossing threads', () => {
    const plain = new WarmingParser(HostEvent, Number.POSITIVE_INFINITY);
    const compiled = new WarmingParser(HostEvent, 0);
    const events: unknown[] = [
      {
        type: 'closed',
        actorId: 1,
        error: { name: 'TorkError', code: 'TORK_ERR_IO', message: 'reset', details: {} },
      },
      { type: 'closed', actorId: -1, error: {} },
      { type: 'no-such-event', actorId: 1 },
    ];
    for (const event of events) {
      const a = plain.safeParse(event);
      const b = compiled.safeParse(event);
      assert.equal(a.success, b.success, JSON.stringify(event));
      if (!a.success && !b.success) assert.deepEqual(a.error.issues[0]?.path, b.error.issues[0]?.path);
    }
  });
});
