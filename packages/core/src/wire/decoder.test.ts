import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TorkError, TorkErrorCode } from '../errors.js';
import {
  DEFAULT_MAX_BLOCK_LENGTH,
  DEFAULT_MAX_EXTENDED_LENGTH,
  DEFAULT_MAX_PIECE_COUNT,
  DEFAULT_MAX_UNKNOWN_LENGTH,
  WireDecoder,
} from './decoder.js';
import { encodeBitfield, encodeHave, encodeMessage, encodePiece, encodeRequest } from './encoder.js';
import { encodeHandshake } from './handshake.js';
import type { PeerMessage, WireMessage } from './messages.js';

const infoHash = Uint8Array.from({ length: 20 }, (_, i) => 0xa0 + i);
const peerId = new TextEncoder().encode('-TR3000-abcdefghijkl');

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** `<length><id><payload>` with any length and payload: for malformed messages. */
function frame(id: number, payload: Uint8Array | number = 0, length?: number): Uint8Array {
  const body = typeof payload === 'number' ? new Uint8Array(payload) : payload;
  const out = new Uint8Array(5 + body.length);
  new DataView(out.buffer).setUint32(0, length ?? 1 + body.length);
  out[4] = id;
  out.set(body, 5);
  return out;
}

function u32s(...values: number[]): Uint8Array {
  const out = new Uint8Array(4 * values.length);
  const view = new DataView(out.buffer);
  for (const [i, value] of values.entries()) view.setUint32(4 * i, value);
  return out;
}

function pushBytewise(decoder: WireDecoder, bytes: Uint8Array): WireMessage[] {
  const out: WireMessage[] = [];
  for (let i = 0; i < bytes.length; i++) out.push(...decoder.push(bytes.subarray(i, i + 1)));
  return out;
}

/** Asserts `fn` throws a TorkError with `code` and details containing `details`; returns it. */
function throwsTork(fn: () => unknown, code: string, details: Record<string, unknown> = {}): TorkError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof TorkError, `expected a TorkError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  for (const [key, value] of Object.entries(details)) assert.equal(caught.details[key], value, key);
  return caught;
}

const PIECES = 100;
const block = Uint8Array.from({ length: 16384 }, (_, i) => i * 7);
const allMessages: PeerMessage[] = [
  { type: 'keep-alive' },
  { type: 'choke' },
  { type: 'unchoke' },
  { type: 'interested' },
  { type: 'not-interested' },
  { type: 'have', index: 99 },
  { type: 'bitfield', bitfield: Uint8Array.from({ length: 13 }, (_, i) => (i === 12 ? 0xf0 : 0xa5)) },
  { type: 'request', index: 3, begin: 16384, length: 16384 },
  { type: 'piece', index: 3, begin: 16384, block },
  { type: 'cancel', index: 3, begin: 16384, length: 16384 },
  { type: 'port', port: 51413 },
  { type: 'suggest-piece', index: 0 },
  { type: 'have-all' },
  { type: 'have-none' },
  { type: 'reject-request', index: 4, begin: 0, length: 1 },
  { type: 'allowed-fast', index: 42 },
  { type: 'extended', extId: 0, payload: new TextEncoder().encode('d1:md6:ut_pexi1eee') },
  { type: 'extended', extId: 3, payload: new Uint8Array(0) },
];

describe('WireDecoder round trips', () => {
  for (const message of allMessages) {
    it(`decodes ${message.type} whole and byte by byte`, () => {
      const bytes = encodeMessage(message);
      assert.deepEqual(new WireDecoder({ pieceCount: PIECES }).push(bytes), [message]);
      const decoder = new WireDecoder({ pieceCount: PIECES });
      assert.deepEqual(pushBytewise(decoder, bytes), [message]);
      assert.equal(decoder.bufferedBytes, 0);
    });
  }

  it('decodes every message in one stream, in order', () => {
    const stream = concat(allMessages.map(encodeMessage));
    assert.deepEqual(new WireDecoder({ pieceCount: PIECES }).push(stream), allMessages);
  });

  it('yields the handshake first when asked to, then messages from the same chunk', () => {
    const stream = concat([encodeHandshake({ infoHash, peerId, dht: true }), encodeHave(1), encodeHave(2)]);
    const check = (messages: WireMessage[]) => {
      assert.equal(messages.length, 3);
      const [handshake] = messages;
      assert.ok(handshake?.type === 'handshake');
      assert.deepEqual(handshake.infoHash, infoHash);
      assert.deepEqual(handshake.peerId, peerId);
      assert.equal(handshake.extensionProtocol, true);
      assert.equal(handshake.fastExtension, true);
      assert.equal(handshake.dht, true);
      assert.deepEqual(messages.slice(1), [
        { type: 'have', index: 1 },
        { type: 'have', index: 2 },
      ]);
    };
    check(new WireDecoder({ expectHandshake: true }).push(stream));
    check(pushBytewise(new WireDecoder({ expectHandshake: true }), stream));
  });

  it('hands out views for messages inside one chunk, one exactly-sized copy otherwise', () => {
    const piece = encodePiece(1, 0, block);
    const stream = concat([piece, piece]);
    const [first, second] = new WireDecoder().push(stream);
    assert.ok(first?.type === 'piece' && second?.type === 'piece');
    assert.equal(first.block.buffer, stream.buffer);
    assert.equal(second.block.buffer, stream.buffer);

    const decoder = new WireDecoder();
    assert.deepEqual(decoder.push(piece.subarray(0, 1000)), []);
    assert.equal(decoder.bufferedBytes, piece.length - 5, 'the payload buffer, allocated once');
    const [straddled] = decoder.push(piece.subarray(1000));
    assert.ok(straddled?.type === 'piece');
    assert.deepEqual(straddled.block, block);
    assert.equal(straddled.block.buffer.byteLength, 8 + block.length);
    assert.equal(decoder.bufferedBytes, 0);
  });

  it('skips unknown ids without buffering them and reports them', () => {
    const unknown = frame(21, 100_000);
    const decoder = new WireDecoder();
    assert.deepEqual(decoder.push(unknown.subarray(0, 50_000)), []);
    assert.equal(decoder.bufferedBytes, 0);
    assert.deepEqual(decoder.push(concat([unknown.subarray(50_000), encodeHave(7), frame(10)])), [
      { type: 'unknown', id: 21, length: 100_000 },
      { type: 'have', index: 7 },
      { type: 'unknown', id: 10, length: 0 },
    ]);
  });

  it('checks indices once the piece count becomes known', () => {
    const decoder = new WireDecoder();
    assert.equal(decoder.pieceCount, undefined);
    assert.deepEqual(decoder.push(encodeBitfield(Uint8Array.of(0xff, 0xff))), [
      { type: 'bitfield', bitfield: Uint8Array.of(0xff, 0xff) },
    ]);
    assert.deepEqual(decoder.push(encodeHave(1000)), [{ type: 'have', index: 1000 }]);
    decoder.setPieceCount(10);
    assert.equal(decoder.pieceCount, 10);
    assert.deepEqual(decoder.push(encodeHave(9)), [{ type: 'have', index: 9 }]);
    throwsTork(() => decoder.push(encodeHave(10)), TorkErrorCode.WIRE_PROTOCOL, {
      index: 10,
      pieceCount: 10,
    });
  });

  it('rechecks a bitfield that was arriving when the piece count became known', () => {
    const decoder = new WireDecoder();
    const bitfield = encodeBitfield(Uint8Array.of(0xff, 0xff));
    decoder.push(bitfield.subarray(0, 6));
    decoder.setPieceCount(10);
    throwsTork(() => decoder.push(bitfield.subarray(6)), TorkErrorCode.WIRE_PROTOCOL, { pieceCount: 10 });
  });
});

describe('WireDecoder caps', () => {
  it('has the documented defaults', () => {
    const decoder = new WireDecoder();
    assert.equal(decoder.maxBlockLength, DEFAULT_MAX_BLOCK_LENGTH);
    assert.equal(DEFAULT_MAX_BLOCK_LENGTH, 131_072);
    assert.equal(DEFAULT_MAX_EXTENDED_LENGTH, 131_072);
    assert.equal(DEFAULT_MAX_UNKNOWN_LENGTH, 131_072);
    assert.equal(DEFAULT_MAX_PIECE_COUNT, 2_097_152);
    // Unknown piece count: a 2^21-piece bitfield (256 KiB) is the largest message.
    assert.equal(decoder.maxMessageLength, 1 + 262_144);
    // Known: the largest piece message.
    assert.equal(new WireDecoder({ pieceCount: 1000 }).maxMessageLength, 9 + 131_072);
  });

  it('refuses a 2^31 length prefix as soon as its 4th byte arrives, without buffering', () => {
    const decoder = new WireDecoder();
    assert.deepEqual(decoder.push(Uint8Array.of(0x80, 0x00, 0x00)), []);
    assert.equal(decoder.bufferedBytes, 3);
    const error = throwsTork(() => decoder.push(Uint8Array.of(0x01)), TorkErrorCode.WIRE_TOO_LARGE, {
      length: 2 ** 31 + 1,
      max: decoder.maxMessageLength,
    });
    assert.equal(decoder.bufferedBytes, 0, 'a dead decoder holds nothing');
    assert.equal(decoder.error, error);
    assert.throws(
      () => decoder.push(new Uint8Array(10)),
      (again: unknown) => again === error,
    );
    throwsTork(() => new WireDecoder().push(u32s(0x7fff_ffff, 0)), TorkErrorCode.WIRE_TOO_LARGE);
    throwsTork(() => new WireDecoder().push(u32s(0xffff_ffff)), TorkErrorCode.WIRE_TOO_LARGE);
  });

  it('refuses one byte above the largest message and accepts the largest', () => {
    const decoder = new WireDecoder({ pieceCount: 10 });
    const max = decoder.maxMessageLength;
    throwsTork(() => new WireDecoder({ pieceCount: 10 }).push(u32s(max + 1)), TorkErrorCode.WIRE_TOO_LARGE);
    const largest = frame(7, concat([u32s(0, 0), new Uint8Array(DEFAULT_MAX_BLOCK_LENGTH)]));
    assert.equal(largest.length, 4 + max);
    const [piece] = decoder.push(largest);
    assert.ok(piece?.type === 'piece');
    assert.equal(piece.block.length, DEFAULT_MAX_BLOCK_LENGTH);
  });

  it('refuses a piece whose block is above maxBlockLength, or empty', () => {
    const small = { maxBlockLength: 16384 };
    throwsTork(() => new WireDecoder(small).push(frame(7, 8 + 16385)), TorkErrorCode.WIRE_TOO_LARGE, {
      id: 7,
      length: 9 + 16385,
    });
    assert.equal(new WireDecoder(small).push(frame(7, 8 + 16384)).length, 1);
    throwsTork(() => new WireDecoder().push(frame(7, 8)), TorkErrorCode.WIRE_PROTOCOL, { id: 7, length: 9 });
    throwsTork(() => new WireDecoder().push(frame(7, 3)), TorkErrorCode.WIRE_PROTOCOL, { id: 7, length: 4 });
  });

  it('refuses each fixed-size message at any other length', () => {
    const fixed: [number, number][] = [
      [0, 1],
      [1, 1],
      [2, 1],
      [3, 1],
      [4, 5],
      [6, 13],
      [8, 13],
      [9, 3],
      [13, 5],
      [14, 1],
      [15, 1],
      [16, 13],
      [17, 5],
    ];
    for (const [id, length] of fixed) {
      for (const wrong of [length - 1, length + 1]) {
        if (wrong < 1) continue;
        throwsTork(() => new WireDecoder().push(frame(id, wrong - 1)), TorkErrorCode.WIRE_PROTOCOL, {
          id,
          length: wrong,
        });
      }
      // The length alone condemns it: refused before its payload arrives.
      throwsTork(() => new WireDecoder().push(frame(id, 0, length + 1)), TorkErrorCode.WIRE_PROTOCOL, { id });
    }
  });

  it('refuses a bitfield of the wrong length or with spare bits set, when the piece count is known', () => {
    throwsTork(
      () => new WireDecoder({ pieceCount: 10 }).push(encodeBitfield(Uint8Array.of(0xff, 0xc0, 0))),
      TorkErrorCode.WIRE_PROTOCOL,
      { id: 5, bytes: 3, pieceCount: 10 },
    );
    throwsTork(
      () => new WireDecoder({ pieceCount: 10 }).push(encodeBitfield(Uint8Array.of(0xff))),
      TorkErrorCode.WIRE_PROTOCOL,
      { id: 5, bytes: 1 },
    );
    // A huge bitfield is refused on its prefix (WIRE_TOO_LARGE) or its header (WIRE_PROTOCOL), never buffered.
    const huge = new WireDecoder({ pieceCount: 10 });
    throwsTork(() => huge.push(frame(5, 0, 100_000)), TorkErrorCode.WIRE_PROTOCOL, { bytes: 99_999 });
    assert.ok(huge.bufferedBytes <= 5);
    throwsTork(
      () => new WireDecoder({ pieceCount: 10 }).push(encodeBitfield(Uint8Array.of(0xff, 0xe0))),
      TorkErrorCode.WIRE_PROTOCOL,
      { pieceCount: 10 },
    );
    assert.equal(
      new WireDecoder({ pieceCount: 10 }).push(encodeBitfield(Uint8Array.of(0xff, 0xc0))).length,
      1,
    );
    assert.equal(new WireDecoder({ pieceCount: 0 }).push(encodeBitfield(new Uint8Array(0))).length, 1);
  });

  it('bounds a bitfield by maxPieceCount while the piece count is unknown', () => {
    const decoder = new WireDecoder({ maxPieceCount: 80 });
    assert.equal(decoder.push(encodeBitfield(new Uint8Array(10))).length, 1);
    throwsTork(() => decoder.push(encodeBitfield(new Uint8Array(11))), TorkErrorCode.WIRE_TOO_LARGE);
  });

  it('refuses indices at or beyond the piece count in every message that has one', () => {
    const messages: PeerMessage[] = [
      { type: 'have', index: 10 },
      { type: 'request', index: 10, begin: 0, length: 1 },
      { type: 'piece', index: 10, begin: 0, block: new Uint8Array(1) },
      { type: 'cancel', index: 10, begin: 0, length: 1 },
      { type: 'suggest-piece', index: 10 },
      { type: 'reject-request', index: 10, begin: 0, length: 1 },
      { type: 'allowed-fast', index: 0xffff_ffff },
    ];
    for (const message of messages) {
      throwsTork(
        () => new WireDecoder({ pieceCount: 10 }).push(encodeMessage(message)),
        TorkErrorCode.WIRE_PROTOCOL,
        { type: message.type, pieceCount: 10 },
      );
    }
  });

  it('refuses request, cancel and reject-request lengths of 0 or above maxBlockLength', () => {
    for (const type of ['request', 'cancel', 'reject-request'] as const) {
      for (const length of [0, DEFAULT_MAX_BLOCK_LENGTH + 1, 0xffff_ffff]) {
        throwsTork(
          () => new WireDecoder().push(encodeMessage({ type, index: 0, begin: 0, length })),
          TorkErrorCode.WIRE_PROTOCOL,
          { type, blockLength: length },
        );
      }
      assert.equal(
        new WireDecoder().push(encodeMessage({ type, index: 0, begin: 0, length: DEFAULT_MAX_BLOCK_LENGTH }))
          .length,
        1,
      );
    }
    throwsTork(
      () => new WireDecoder({ maxBlockLength: 16384 }).push(encodeRequest(0, 0, 16385)),
      TorkErrorCode.WIRE_PROTOCOL,
    );
  });

  it('caps extended messages and refuses one without its id byte', () => {
    const decoder = new WireDecoder({ maxExtendedLength: 1000 });
    assert.equal(decoder.push(frame(20, 1001)).length, 1);
    throwsTork(() => decoder.push(frame(20, 1002)), TorkErrorCode.WIRE_TOO_LARGE, { id: 20, length: 1003 });
    throwsTork(() => new WireDecoder().push(frame(20, 0)), TorkErrorCode.WIRE_PROTOCOL, {
      id: 20,
      length: 1,
    });
  });

  it('caps unknown messages', () => {
    const decoder = new WireDecoder({ maxUnknownLength: 10 });
    assert.deepEqual(decoder.push(frame(99, 10)), [{ type: 'unknown', id: 99, length: 10 }]);
    throwsTork(() => decoder.push(frame(99, 11)), TorkErrorCode.WIRE_TOO_LARGE, { id: 99, length: 12 });
  });

  it('refuses a bad handshake on its first wrong byte', () => {
    const decoder = new WireDecoder({ expectHandshake: true });
    throwsTork(() => decoder.push(Uint8Array.of(0x47)), TorkErrorCode.WIRE_HANDSHAKE, { pstrlen: 0x47 });
    throwsTork(() => decoder.push(Uint8Array.of(0x13)), TorkErrorCode.WIRE_HANDSHAKE);
    const wrongName = new WireDecoder({ expectHandshake: true });
    assert.deepEqual(wrongName.push(new TextEncoder().encode('\x13BitTorrent')), []);
    throwsTork(() => wrongName.push(new TextEncoder().encode(' Protocol')), TorkErrorCode.WIRE_HANDSHAKE);
  });

  it('refuses invalid options and piece counts as usage errors', () => {
    for (const options of [
      { maxBlockLength: 0 },
      { maxBlockLength: 1.5 },
      { maxExtendedLength: -1 },
      { maxPieceCount: 2 ** 31 },
      { maxUnknownLength: Number.NaN },
      { pieceCount: -1 },
    ]) {
      throwsTork(() => new WireDecoder(options), TorkErrorCode.USAGE);
    }
    throwsTork(() => new WireDecoder().setPieceCount(2 ** 32 + 1), TorkErrorCode.USAGE);
  });
});

describe('WireDecoder throughput sanity', () => {
  it('decodes 64 MiB of piece messages pushed in 64 KiB chunks', () => {
    const blockLength = 16384;
    const count = (64 * 1024 * 1024) / blockLength;
    const message = 13 + blockLength;
    const stream = new Uint8Array(count * message);
    const view = new DataView(stream.buffer);
    for (let i = 0; i < count; i++) {
      const at = i * message;
      view.setUint32(at, 9 + blockLength);
      stream[at + 4] = 7;
      view.setUint32(at + 5, i >>> 2);
      view.setUint32(at + 9, (i & 3) * blockLength);
      stream[at + 13] = i & 0xff;
    }
    const decoder = new WireDecoder({ pieceCount: count / 4 });
    let pieces = 0;
    let bytes = 0;
    let maxBuffered = 0;
    for (let at = 0; at < stream.length; at += 65536) {
      for (const decoded of decoder.push(stream.subarray(at, at + 65536))) {
        assert.ok(decoded.type === 'piece');
        if (decoded.block[0] !== (pieces & 0xff)) assert.fail(`block ${pieces} out of order`);
        pieces++;
        bytes += decoded.block.length;
      }
      maxBuffered = Math.max(maxBuffered, decoder.bufferedBytes);
    }
    assert.equal(pieces, count);
    assert.equal(bytes, 64 * 1024 * 1024);
    assert.equal(decoder.bufferedBytes, 0);
    assert.ok(maxBuffered <= 4 + decoder.maxMessageLength);
  });
});
