import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_TRACE_EVENTS, TraceBuffer } from './trace-buffer.js';

const event = (ts: number) => ({ ph: 'i' as const, name: `e${ts}`, ts, pid: 1, tid: 0, s: 't' as const });

describe('TraceBuffer', () => {
  it('keeps at most MAX_TRACE_EVENTS events, the newest, and counts the dropped ones', () => {
    const buffer = new TraceBuffer();
    assert.equal(buffer.maxEvents, MAX_TRACE_EVENTS);
    const extra = 1_234;
    for (let ts = 0; ts < MAX_TRACE_EVENTS + extra; ts++) buffer.push(event(ts));
    assert.equal(buffer.size, MAX_TRACE_EVENTS);
    const file = buffer.toJSON();
    assert.equal(file.otherData.droppedEvents, extra);
    assert.equal(file.otherData.maxEvents, MAX_TRACE_EVENTS);
    const timed = file.traceEvents.filter((e) => e.ph !== 'M');
    assert.equal(timed.length, MAX_TRACE_EVENTS);
    // Oldest first, and the oldest kept is the first not overwritten.
    assert.equal(timed[0]?.ts, extra);
    assert.equal(timed.at(-1)?.ts, MAX_TRACE_EVENTS + extra - 1);
    for (let i = 1; i < timed.length; i++) assert.ok(timed[i]!.ts > timed[i - 1]!.ts);
  });

  it('keeps track names apart from the ring: a full ring still names every track', () => {
    const buffer = new TraceBuffer(3);
    buffer.name(1, undefined, 'tork threads', 0);
    buffer.name(1, 0, 'coordinator');
    for (let ts = 0; ts < 10; ts++) buffer.push(event(ts));
    const events = buffer.events();
    assert.deepEqual(
      events.filter((e) => e.ph === 'M').map((e) => [e.name, e.args]),
      [
        ['process_name', { name: 'tork threads' }],
        ['process_sort_index', { sort_index: 0 }],
        ['thread_name', { name: 'coordinator' }],
      ],
    );
    assert.deepEqual(
      events.filter((e) => e.ph !== 'M').map((e) => e.ts),
      [7, 8, 9],
    );
    assert.equal(buffer.dropped, 7);
  });

  it('refuses a limit that is not a positive integer', () => {
    assert.throws(() => new TraceBuffer(0), RangeError);
    assert.throws(() => new TraceBuffer(1.5), RangeError);
  });
});
