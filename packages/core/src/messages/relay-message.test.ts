import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { TorkError, TorkErrorCode } from '../errors.js';
import { RelayMessage } from './relay-message.js';
import { parseRelayMessage } from './validate.js';

/** What the schema alone says of `value`: the parsed message, or that it refuses it. */
function bySchema(value: unknown): unknown {
  const result = RelayMessage.safeParse(value);
  return result.success ? withoutUndefined(result.data) : 'refused';
}

/** A key set to `undefined` (an optional field, as zod passes it on) counts as absent. */
function withoutUndefined(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || value instanceof ArrayBuffer) return value;
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined));
}

/** What parseRelayMessage says (its hand-written fast paths first). */
function byParser(value: unknown): unknown {
  try {
    return withoutUndefined(parseRelayMessage(value));
  } catch (error) {
    assert.ok(error instanceof TorkError && error.code === TorkErrorCode.THREAD_MESSAGE, String(error));
    return 'refused';
  }
}

const numbers = fc.oneof(
  fc.constantFrom(0, 1, -1, 1.5, 16_384, 2 ** 31, 2 ** 53 - 1, 2 ** 53, 2 ** 60, Number.NaN, Infinity),
  fc.integer(),
  fc.double(),
  fc.constantFrom('4', null, undefined, true, 10n),
);

describe('parseRelayMessage', () => {
  it('checks data messages by hand exactly as the schema does, and leaves the other kinds to it', () => {
    const buffer = new ArrayBuffer(16);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.record({
            type: fc.constant('data'),
            buffer: fc.constantFrom(buffer, new Uint8Array(16), null),
            length: numbers,
          }),
          fc.record({
            type: fc.constant('end'),
            reason: fc.oneof(fc.string(), fc.constant('x'.repeat(1_001)), numbers),
          }),
          fc.record({ type: fc.constantFrom('open', 'ack', 'data', 'other', 7) }),
          fc.constantFrom(null, undefined, 7, 'ack', []),
        ),
        (value) => assert.deepEqual(byParser(value), bySchema(value)),
      ),
      { numRuns: 2_000 },
    );
  });

  it('passes a chunk through as it is (moved, never copied)', () => {
    const chunk = new ArrayBuffer(4);
    assert.equal(parseRelayMessage(chunk), chunk);
  });
});
