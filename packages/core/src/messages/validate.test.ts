import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TorkError, TorkErrorCode } from '../errors.js';
import { parseHostCommandBatch, parseHostEventBatch } from './validate.js';

const rejects = (fn: () => unknown, where: RegExp) =>
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof TorkError);
    assert.equal(error.code, TorkErrorCode.THREAD_MESSAGE);
    assert.match(error.message, where);
    return true;
  });

describe('thread message schemas', () => {
  it('accepts well-formed batches', () => {
    const data = new ArrayBuffer(16);
    const events = parseHostEventBatch({ events: [{ type: 'piece', actorId: 1, index: 0, data }] });
    const first = events.events[0];
    assert.ok(first?.type === 'piece');
    assert.equal(first.data, data, 'the ArrayBuffer is passed through, not copied');
    parseHostCommandBatch({ commands: [{ type: 'assign', actorId: 3, pieces: [1, 2] }] });
  });

  it('rejects malformed batches with the path of the fault', () => {
    rejects(
      () => parseHostCommandBatch({ commands: [{ type: 'assign', actorId: -1, pieces: [1] }] }),
      /commands\.0\.actorId/,
    );
    rejects(() => parseHostCommandBatch({ commands: [{ type: 'format-disk' }] }), /commands\.0/);
    rejects(
      () => parseHostEventBatch({ events: [{ type: 'piece', actorId: 1, index: 0, data: 'x' }] }),
      /data/,
    );
    rejects(
      () => parseHostEventBatch({ events: [{ type: 'connected', actorId: 1, peerId: 'zz' }] }),
      /events\.0/,
    );
    rejects(() => parseHostEventBatch(null), /root/);
  });
});
