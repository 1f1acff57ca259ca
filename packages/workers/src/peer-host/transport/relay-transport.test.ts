import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { TorkError, TorkErrorCode } from '@tork/core/internal/errors.js';
import { parseRelayMessage } from '@tork/core/internal/messages/validate.js';
import { BufferPool } from '../buffer-pool.js';
import { RELAY_ACK_DELAY_MS, RELAY_ACK_EAGER_BYTES, relayTransport } from './relay-transport.js';

const handlers = {
  onConnect: () => {},
  onData: () => {},
  onDrain: () => {},
  onClose: () => {},
};

/** The next `count` messages arriving on `port`, parsed as the Listener parses them. */
function receive(port: MessagePort, count: number): Promise<Array<ReturnType<typeof parseRelayMessage>>> {
  return new Promise((resolve, reject) => {
    const got: Array<ReturnType<typeof parseRelayMessage>> = [];
    const timer = setTimeout(() => reject(new Error(`${got.length} of ${count} messages`)), 5_000);
    port.on('message', (value: unknown) => {
      got.push(parseRelayMessage(value));
      if (got.length === count) {
        clearTimeout(timer);
        resolve(got);
      }
    });
  });
}

function gather(size: number, fill: number): { buffer: ArrayBuffer; view: Uint8Array } {
  const buffer = new ArrayBuffer(size);
  const view = new Uint8Array(buffer);
  view.fill(fill);
  return { buffer, view };
}

describe('relayTransport', () => {
  it('moves a gather buffer that holds one chunk instead of copying it; copies the rest, in order', async () => {
    const { port1, port2 } = new MessageChannel();
    const pool = new BufferPool();
    const transport = relayTransport(port1, handlers, pool);
    try {
      const run = Uint8Array.of(0, 0, 0, 1, 1); // not owned: a run buffer's message
      const alone = gather(256 * 1024, 7); // owned, one chunk from its start: moved
      const aloneChunk = alone.view.subarray(0, 1000);
      const shared = gather(256 * 1024, 9); // owned, two chunks in it: copied
      const sharedA = shared.view.subarray(0, 10);
      const sharedB = shared.view.subarray(20, 30);
      const tail = Uint8Array.of(4, 5, 6);
      const chunks = [run, aloneChunk, sharedA, sharedB, tail];
      const bytes = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
      const expected = Buffer.concat(chunks.map((chunk) => Buffer.from(chunk)));
      const arriving = receive(port2, 3);
      transport.write(chunks, bytes, [alone.buffer, shared.buffer]);
      assert.equal(alone.buffer.byteLength, 0, 'moved: detached here');
      assert.equal(shared.buffer.byteLength, 256 * 1024, 'copied: still ours');
      assert.equal(pool.bytes, 256 * 1024, 'the copied gather buffer went back to the pool');
      assert.equal(transport.pending, bytes);
      const messages = await arriving;
      const received = Buffer.concat(
        messages.map((message) => {
          assert.ok(!(message instanceof ArrayBuffer) && message.type === 'data');
          return Buffer.from(message.buffer, 0, message.length);
        }),
      );
      assert.deepEqual(received, expected);
      const moved = messages[1] as { buffer: ArrayBuffer; length: number };
      assert.equal(moved.buffer.byteLength, 256 * 1024, 'the gather buffer itself arrived');
      assert.equal(moved.length, 1000);
    } finally {
      transport.destroy();
      port2.close();
    }
  });

  it('acks few consumed bytes within RELAY_ACK_DELAY_MS, many in the same turn', async () => {
    const { port1, port2 } = new MessageChannel();
    const transport = relayTransport(port1, handlers, new BufferPool());
    const acks: Array<{ bytes: number; at: number }> = [];
    port2.on('message', (value: unknown) => {
      const message = parseRelayMessage(value);
      if (!(message instanceof ArrayBuffer) && message.type === 'ack')
        acks.push({ bytes: message.bytes, at: performance.now() });
    });
    const turn = () => new Promise((resolve) => setImmediate(resolve));
    try {
      const start = performance.now();
      for (let i = 0; i < 10; i++) {
        transport.consumed(17);
        await turn();
      }
      assert.ok(acks.length <= 1, `10 small reads: ${acks.length} acks so far`);
      await new Promise((resolve) => setTimeout(resolve, RELAY_ACK_DELAY_MS * 5));
      assert.equal(
        acks.reduce((sum, ack) => sum + ack.bytes, 0),
        170,
        'every consumed byte acknowledged',
      );
      assert.ok(acks.length <= 2, `${acks.length} acks for 10 small reads`);
      assert.ok(acks[0]!.at - start >= RELAY_ACK_DELAY_MS - 2, 'the small ones waited for the delay');
      acks.length = 0;
      transport.consumed(RELAY_ACK_EAGER_BYTES);
      // Two turns: setImmediate, then the message's delivery on this thread.
      for (let i = 0; i < 5 && acks.length === 0; i++) await turn();
      assert.deepEqual(
        acks.map((ack) => ack.bytes),
        [RELAY_ACK_EAGER_BYTES],
        'acknowledged within a few turns, not after the delay',
      );
    } finally {
      transport.destroy();
      port2.close();
    }
  });

  it('the Listener still refuses a data message whose length lies outside its buffer', () => {
    const buffer = new ArrayBuffer(16);
    assert.deepEqual(parseRelayMessage({ type: 'data', buffer, length: 16, extra: 1 }), {
      type: 'data',
      buffer,
      length: 16,
    });
    for (const length of [0, 17, 1.5, -1, '4'])
      assert.throws(
        () => parseRelayMessage({ type: 'data', buffer, length }),
        (error: unknown) => error instanceof TorkError && error.code === TorkErrorCode.THREAD_MESSAGE,
        `length ${length}`,
      );
    assert.throws(() => parseRelayMessage({ type: 'data', buffer: new Uint8Array(4), length: 2 }));
  });
});
