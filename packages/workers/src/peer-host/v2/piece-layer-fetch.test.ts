import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  blockHashes,
  fileMerkle,
  type HashesMessage,
  type HostEvent,
  pieceLayerRequests,
  ServedMerkleTree,
  type TorkError,
  WireDecoder,
} from '@tork/core';
import {
  HASH_REQUEST_TIMEOUT_MS,
  MAX_HASH_REQUESTS_IN_FLIGHT,
  PieceLayerFetch,
} from './piece-layer-fetch.js';

const PIECE = 16_384;

/** A file of `pieces` 16 KiB pieces (and a short tail), its root, piece layer and a tree that serves it. */
function file(pieces: number) {
  const data = randomBytes(pieces * PIECE - 100);
  const merkle = fileMerkle(data, PIECE);
  const tree = new ServedMerkleTree({
    piecesRoot: merkle.root!,
    fileLength: data.length,
    layer: 0,
    hashes: blockHashes(data),
  });
  return { length: data.length, root: merkle.root!, layer: merkle.pieceLayer!, tree };
}

function harness() {
  const sent: Uint8Array[] = [];
  const events: HostEvent[] = [];
  const closed: TorkError[] = [];
  const link = {
    id: 7,
    open: true,
    writer: { push: (message: Uint8Array) => sent.push(message) },
    emit: (event: HostEvent) => events.push(event),
    schedule: () => {},
    close: (error: TorkError) => closed.push(error),
  };
  return { link, sent, events, closed, fetch: new PieceLayerFetch(link) };
}

/** The requests tork wrote, decoded as the peer would. */
function decodeSent(sent: readonly Uint8Array[]) {
  const decoder = new WireDecoder({ hashMessages: true });
  return sent.flatMap((bytes) => decoder.push(bytes)).filter((message) => message.type === 'hash-request');
}

describe('PieceLayerFetch (peer host)', () => {
  it('sends the request, proves the answer and hands on exactly the requested hashes', () => {
    const f = file(600);
    const { sent, events, fetch } = harness();
    const requests = pieceLayerRequests(f.root, f.length, PIECE);
    assert.equal(requests.length, 2);
    for (const range of requests) fetch.request(range, f.length, 0);
    const wire = decodeSent(sent);
    assert.equal(wire.length, 2);
    for (const request of wire) {
      const answer = f.tree.answer(request);
      assert.equal(answer.type, 'hashes');
      if (answer.type !== 'hashes') return;
      fetch.onHashes({ ...request, type: 'hashes', hashes: answer.hashes, uncles: answer.uncles });
    }
    assert.equal(fetch.outstanding, 0);
    const got = events.filter((event) => event.type === 'piece-hashes');
    assert.equal(got.length, 2);
    const layer = Buffer.concat(
      got.map((event) => Buffer.from(event.type === 'piece-hashes' ? new Uint8Array(event.hashes) : [])),
    );
    // 1,024 hashes: the piece layer, then pad hashes past the file's 600 pieces.
    assert.ok(layer.subarray(0, f.layer.length).equals(Buffer.from(f.layer)));
  });

  it('wrong hashes, or hashes nobody asked for, are the peer fault: bad-hashes', () => {
    const f = file(40);
    const { fetch } = harness();
    const [range] = pieceLayerRequests(f.root, f.length, PIECE);
    const answer = f.tree.answer(range!);
    assert.equal(answer.type, 'hashes');
    if (answer.type !== 'hashes') return;
    const message: HashesMessage = {
      ...range!,
      type: 'hashes',
      hashes: answer.hashes,
      uncles: answer.uncles,
    };
    // Unasked.
    assert.throws(
      () => fetch.onHashes(message),
      (error: TorkError) => error.details.cause === 'bad-hashes' && /did not ask/.test(error.message),
    );
    fetch.request(range!, f.length, 0);
    const wrong = new Uint8Array(answer.hashes);
    wrong[5]! ^= 1;
    assert.throws(
      () => fetch.onHashes({ ...message, hashes: wrong }),
      (error: TorkError) => error.details.cause === 'bad-hashes' && /bad hashes/.test(error.message),
    );
  });

  it('a reject is reported once; an unanswered request closes the connection after the timeout', () => {
    const f = file(40);
    const { events, closed, fetch } = harness();
    const [range] = pieceLayerRequests(f.root, f.length, PIECE);
    fetch.request(range!, f.length, 0);
    fetch.onReject({ ...range!, type: 'hash-reject' });
    fetch.onReject({ ...range!, type: 'hash-reject' });
    assert.deepEqual(
      events.map((event) => event.type),
      ['hashes-rejected'],
    );
    fetch.request(range!, f.length, 1_000);
    fetch.tick(1_000 + HASH_REQUEST_TIMEOUT_MS - 1);
    assert.equal(closed.length, 0);
    fetch.tick(1_000 + HASH_REQUEST_TIMEOUT_MS);
    assert.equal(closed.length, 1);
    assert.equal(closed[0]!.details.cause, 'hashes-timeout');
  });

  it(`holds at most MAX_HASH_REQUESTS_IN_FLIGHT (${MAX_HASH_REQUESTS_IN_FLIGHT}) requests`, () => {
    const f = file(2 * (MAX_HASH_REQUESTS_IN_FLIGHT + 1));
    const { sent, fetch } = harness();
    const requests = pieceLayerRequests(f.root, f.length, PIECE, 2);
    for (let i = 0; i < MAX_HASH_REQUESTS_IN_FLIGHT; i++) fetch.request(requests[i]!, f.length, 0);
    assert.throws(() => fetch.request(requests[MAX_HASH_REQUESTS_IN_FLIGHT]!, f.length, 0), /more than 8/);
    assert.equal(fetch.outstanding, MAX_HASH_REQUESTS_IN_FLIGHT);
    assert.equal(decodeSent(sent).length, MAX_HASH_REQUESTS_IN_FLIGHT);
  });
});
