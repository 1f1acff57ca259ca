/**
 * The KRPC sanitizer in front of the DHT node: garbage, truncated, oversized and hostile messages
 * are refused with TORK_ERR_DHT; answers keep at most MAX_VALUES_PER_REPLY well-formed peers and
 * never our own address; what passes is rebuilt from BEP 5 fields only.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeBencode, encodeBencode } from '../bencode/bencode.js';
import { TorkError, TorkErrorCode } from '../errors.js';
import { encodeCompactPeers } from '../tracker/compact-peers.js';
import { MAX_KRPC_DATAGRAM_BYTES, MAX_NODES_PER_REPLY, MAX_VALUES_PER_REPLY } from './dht-limits.js';
import { sanitizeKrpc } from './krpc.js';

const RUNS = Number(process.env.TORK_FUZZ_RUNS ?? 5_000);
const id = () => randomBytes(20);
const t = Buffer.from('aa');

function refused(bytes: Uint8Array, reason?: RegExp): void {
  assert.throws(
    () => sanitizeKrpc(bytes),
    (error: unknown) =>
      error instanceof TorkError &&
      error.code === TorkErrorCode.DHT &&
      (reason === undefined || reason.test(String(error.details.reason))),
  );
}

function peer(host: string, port: number): Uint8Array {
  return encodeCompactPeers([{ host, port }], 4);
}

function answer(r: Record<string, unknown>, extra: Record<string, unknown> = {}): Uint8Array {
  return encodeBencode({ t, y: 'r', r: { id: id(), ...r }, ...extra });
}

describe('sanitizeKrpc', () => {
  it('refuses garbage, truncation, trailing bytes, deep nesting and __proto__', () => {
    refused(new Uint8Array(0));
    refused(Buffer.from('hello world'), /not a dictionary/);
    refused(Buffer.from('d1:t2:aa1:y1:q'), /bad bencode/);
    refused(Buffer.from('d1:t2:aa1:y1:qeXX'), /bad bencode/);
    refused(Buffer.from(`d1:t2:aa1:y1:q1:a${'l'.repeat(10)}${'e'.repeat(10)}e`), /bad bencode/);
    refused(Buffer.from('d9:__proto__d1:ai1ee1:t2:aa1:y1:qe'), /bad bencode/);
    refused(Buffer.from('d1:t2:aa1:y1:ze'), /unknown message type/);
    refused(Buffer.from('d1:y1:qe'), /'t'/);
  });

  it('refuses a datagram over the size cap before reading it', () => {
    const big = answer({ values: Array.from({ length: 400 }, (_, i) => peer('10.0.0.1', 1000 + i)) });
    assert.ok(big.length > MAX_KRPC_DATAGRAM_BYTES);
    refused(big, /oversized/);
  });

  it('keeps only the BEP 5 queries, with 20-byte ids and hashes', () => {
    const ok = sanitizeKrpc(
      encodeBencode({ t, y: 'q', q: 'get_peers', a: { id: id(), info_hash: id(), x: 1 } }),
    );
    assert.equal(ok.kind, 'query');
    assert.deepEqual(Object.keys((decodeBencode(ok.bytes) as { a: object }).a).sort(), ['id', 'info_hash']);
    refused(encodeBencode({ t, y: 'q', q: 'put', a: { id: id(), v: 'x' } }), /unknown query/);
    refused(encodeBencode({ t, y: 'q', q: 'get_peers', a: { id: id(), info_hash: randomBytes(19) } }));
    refused(encodeBencode({ t, y: 'q', q: 'ping', a: { id: randomBytes(21) } }));
    refused(encodeBencode({ t, y: 'q', q: 'ping' }), /'a'/);
    refused(encodeBencode({ t: randomBytes(17), y: 'q', q: 'ping', a: { id: id() } }), /'t'/);
    refused(
      encodeBencode({ t, y: 'q', q: 'announce_peer', a: { id: id(), info_hash: id(), token: 'x', port: 0 } }),
      /port/,
    );
    const implied = sanitizeKrpc(
      encodeBencode({
        t,
        y: 'q',
        q: 'announce_peer',
        a: { id: id(), info_hash: id(), token: 'x', implied_port: 1 },
      }),
    );
    assert.equal(implied.kind, 'query');
  });

  it('keeps at most MAX_VALUES_PER_REPLY peers of thousands, dropping malformed ones', () => {
    const values = Array.from({ length: 240 }, (_, i) => peer('10.1.0.1', 1000 + i));
    values.splice(3, 0, randomBytes(18), randomBytes(5), peer('10.1.0.1', 0));
    const result = sanitizeKrpc(answer({ values, token: 'tk' }));
    assert.equal(result.kind, 'response');
    if (result.kind !== 'response') return;
    assert.equal(result.values, MAX_VALUES_PER_REPLY);
    assert.equal(result.droppedValues, values.length - MAX_VALUES_PER_REPLY);
    const kept = (decodeBencode(result.bytes) as { r: { values: Uint8Array[] } }).r.values;
    assert.equal(kept.length, MAX_VALUES_PER_REPLY);
    assert.ok(kept.every((value) => value.length === 6));
  });

  it('drops our own address from values and nodes', () => {
    const us = { host: '127.0.0.1', port: 6881 };
    const nodes = Buffer.concat([
      Buffer.concat([id(), Buffer.from(peer(us.host, 7000))]),
      Buffer.concat([id(), Buffer.from(peer('10.2.0.2', 7001))]),
    ]);
    const result = sanitizeKrpc(answer({ values: [peer(us.host, us.port), peer('10.2.0.1', 5)], nodes }), {
      isOwnPeer: (host, port) => host === us.host && port === us.port,
      isOwnNode: (host, port) => host === us.host && port === 7000,
    });
    assert.equal(result.kind, 'response');
    const r = (decodeBencode(result.bytes) as { r: { values: Uint8Array[]; nodes: Uint8Array } }).r;
    assert.equal(r.values.length, 1);
    assert.equal(r.nodes.length, 26);
  });

  it('takes whole 26-byte nodes only, at most MAX_NODES_PER_REPLY', () => {
    const many = Buffer.concat(
      Array.from({ length: 40 }, (_, i) => Buffer.concat([id(), peer('10.3.0.1', 100 + i)])),
    );
    const capped = sanitizeKrpc(answer({ nodes: many }));
    assert.equal(
      (decodeBencode(capped.bytes) as { r: { nodes: Uint8Array } }).r.nodes.length,
      26 * MAX_NODES_PER_REPLY,
    );
    const misaligned = sanitizeKrpc(answer({ nodes: many.subarray(0, 27) }));
    assert.equal((decodeBencode(misaligned.bytes) as { r: { nodes?: Uint8Array } }).r.nodes, undefined);
  });

  it('reads BEP 42 ip and keeps errors short', () => {
    const result = sanitizeKrpc(answer({}, { ip: peer('203.0.113.7', 4000) }));
    assert.equal(result.kind === 'response' && result.reportedIp, '203.0.113.7');
    const error = sanitizeKrpc(encodeBencode({ t, y: 'e', e: [201, 'x'.repeat(1000)] }));
    assert.equal(error.kind, 'error');
    assert.ok(error.bytes.length < 300);
  });

  it('fuzz: any bytes give a sanitized message that re-decodes, or TORK_ERR_DHT', () => {
    const soup = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc
        .record({
          y: fc.constantFrom('q', 'r', 'e', 'x'),
          q: fc.constantFrom('ping', 'find_node', 'get_peers', 'announce_peer', 'put'),
          values: fc.array(fc.uint8Array({ minLength: 4, maxLength: 8 }), { maxLength: 30 }),
          nodes: fc.uint8Array({ maxLength: 80 }),
          id: fc.uint8Array({ minLength: 19, maxLength: 21 }),
        })
        .map(({ y, q, values, nodes, id: nodeId }) =>
          encodeBencode({
            t,
            y,
            q,
            a: { id: nodeId, info_hash: nodeId, target: nodeId },
            r: { id: nodeId, values, nodes },
          }),
        ),
    );
    fc.assert(
      fc.property(soup, (bytes) => {
        try {
          const result = sanitizeKrpc(bytes);
          const decoded = decodeBencode(result.bytes) as Record<string, unknown>;
          assert.ok(decoded.t instanceof Uint8Array);
          if (result.kind === 'response') assert.ok(result.values <= MAX_VALUES_PER_REPLY);
        } catch (error) {
          assert.ok(error instanceof TorkError && error.code === TorkErrorCode.DHT, String(error));
        }
      }),
      { numRuns: RUNS },
    );
  });
});
