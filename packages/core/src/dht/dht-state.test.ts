import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { TorkError, TorkErrorCode } from '../errors.js';
import { MAX_DHT_STATE_FILE_BYTES, MAX_DHT_STATE_NODES } from './dht-limits.js';
import { parseDhtState } from './dht-state.js';

const hex = () => randomBytes(20).toString('hex');

describe('parseDhtState', () => {
  it('keeps at most MAX_DHT_STATE_NODES well-formed contacts', () => {
    const nodes = Array.from({ length: MAX_DHT_STATE_NODES + 100 }, (_, i) => ({
      id: hex(),
      host: `10.0.${i >> 8}.${i & 255}`,
      port: 1000 + i,
    }));
    nodes.splice(1, 0, { id: 'nope', host: '10.0.0.1', port: 1 } as never, {
      id: hex(),
      host: '::1',
      port: 1,
    });
    const state = parseDhtState(JSON.stringify({ version: 1, nodeId: hex(), nodes }));
    assert.equal(state.nodes.length, MAX_DHT_STATE_NODES);
    assert.equal(state.nodes[1]!.port, 1001);
  });

  it('refuses what is not a saved table, and files over MAX_DHT_STATE_FILE_BYTES', () => {
    const isDht = (error: unknown) => error instanceof TorkError && error.code === TorkErrorCode.DHT;
    assert.throws(() => parseDhtState('{'), isDht);
    assert.throws(() => parseDhtState(JSON.stringify({ version: 2, nodeId: hex(), nodes: [] })), isDht);
    assert.throws(() => parseDhtState(JSON.stringify({ version: 1, nodeId: 'x', nodes: [] })), isDht);
    assert.throws(() => parseDhtState(' '.repeat(MAX_DHT_STATE_FILE_BYTES + 1)), isDht);
  });
});
