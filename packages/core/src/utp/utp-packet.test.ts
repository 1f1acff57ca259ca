import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTorkError, TorkErrorCode } from '../errors.js';
import {
  decodeUtpPacket,
  encodeUtpPacket,
  UTP_HEADER_BYTES,
  UTP_MAX_DATAGRAM_BYTES,
  UTP_MAX_EXTENSIONS,
  type UtpPacket,
  UtpType,
} from './utp-packet.js';

const isUtpError = (error: unknown) => isTorkError(error, TorkErrorCode.UTP);

const sample: UtpPacket = {
  type: UtpType.data,
  connectionId: 0xbeef,
  timestampMicros: 0xfedc_ba98,
  timestampDifferenceMicros: 12_345,
  windowSize: 1024 * 1024,
  seq: 65_535,
  ack: 7,
  sack: Uint8Array.of(0b1010_0001, 0, 0, 0x80),
  payload: new TextEncoder().encode('hello, uTP'),
};

/** A header with `extension` as first extension type, followed by `rest`. */
function withExtensions(extension: number, ...rest: number[]): Uint8Array {
  const out = new Uint8Array(UTP_HEADER_BYTES + rest.length);
  out[0] = (UtpType.state << 4) | 1;
  out[1] = extension;
  out.set(rest, UTP_HEADER_BYTES);
  return out;
}

describe('uTP packet codec', () => {
  it('round-trips every field, the SACK and the payload, in BEP 29 byte order', () => {
    const bytes = encodeUtpPacket(sample);
    assert.equal(bytes.length, UTP_HEADER_BYTES + 2 + 4 + sample.payload.length);
    assert.equal(bytes[0], 0x01); // ST_DATA, version 1
    assert.equal(bytes[1], 1); // first extension: SACK
    assert.deepEqual([...bytes.subarray(2, 4)], [0xbe, 0xef]);
    assert.deepEqual([...bytes.subarray(16, 20)], [0xff, 0xff, 0, 7]);
    assert.deepEqual([...bytes.subarray(20, 22)], [0, 4]); // no next extension, 4 bytes
    const decoded = decodeUtpPacket(bytes);
    assert.deepEqual(
      { ...decoded, sack: [...decoded.sack!], payload: [...decoded.payload] },
      {
        ...sample,
        sack: [...sample.sack!],
        payload: [...sample.payload],
      },
    );
    for (const type of Object.values(UtpType)) {
      const packet = { ...sample, type, sack: undefined, payload: new Uint8Array(0) };
      assert.deepEqual(decodeUtpPacket(encodeUtpPacket(packet)), packet);
    }
  });

  it('writes into a caller buffer without allocating, and the payload decodes as a view', () => {
    const buffer = new Uint8Array(2048);
    const written = encodeUtpPacket(sample, buffer);
    assert.equal(written.buffer, buffer.buffer);
    assert.deepEqual(written, encodeUtpPacket(sample));
    const decoded = decodeUtpPacket(written);
    assert.equal(decoded.payload.buffer, buffer.buffer);
    assert.throws(() => encodeUtpPacket(sample, new Uint8Array(20)), isUtpError);
  });

  it('skips unknown extensions (libtorrent close reason) and keeps the SACK after them', () => {
    const bytes = withExtensions(3, 1, 4, 0, 0, 0, 9, 0, 4, 0xff, 0, 0, 1, 0xaa);
    const packet = decodeUtpPacket(bytes);
    assert.deepEqual([...packet.sack!], [0xff, 0, 0, 1]);
    assert.deepEqual([...packet.payload], [0xaa]);
    assert.equal(decodeUtpPacket(withExtensions(7, 0, 0)).sack, undefined);
  });

  it("accepts libtorrent's SACKs: any length from 1 to 255 bytes", () => {
    assert.deepEqual([...decodeUtpPacket(withExtensions(1, 0, 1, 0x05)).sack!], [5]);
    const long = decodeUtpPacket(withExtensions(1, 0, 255, ...new Array(255).fill(1)));
    assert.equal(long.sack!.length, 255);
  });

  it('accepts a payload on non-DATA packets (the connection ignores it)', () => {
    const packet = decodeUtpPacket(withExtensions(0, 1, 2, 3));
    assert.equal(packet.type, UtpType.state);
    assert.deepEqual([...packet.payload], [1, 2, 3]);
  });

  it('refuses malformed datagrams with TORK_ERR_UTP', () => {
    const good = encodeUtpPacket({ ...sample, sack: undefined });
    const refused: [string, Uint8Array][] = [
      ['empty', new Uint8Array(0)],
      ['shorter than the header', good.subarray(0, 19)],
      ['version 2', Uint8Array.from(good, (b, i) => (i === 0 ? (b & 0xf0) | 2 : b))],
      ['version 0', Uint8Array.from(good, (b, i) => (i === 0 ? b & 0xf0 : b))],
      ['type 5', Uint8Array.from(good, (b, i) => (i === 0 ? 0x51 : b))],
      ['type 15', Uint8Array.from(good, (b, i) => (i === 0 ? 0xf1 : b))],
      ['extension header truncated', withExtensions(1, 0)],
      ['extension with no header at all', withExtensions(2)],
      ['extension length overruns', withExtensions(2, 0, 5, 1, 2, 3, 4)],
      ['chain continues past the end', withExtensions(2, 1, 0)],
      ['empty SACK', withExtensions(1, 0, 0)],
      ['two SACKs', withExtensions(1, 1, 4, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0)],
      ['too many extensions', withExtensions(9, ...new Array(UTP_MAX_EXTENSIONS + 1).fill([9, 0]).flat())],
      ['datagram over the cap', new Uint8Array(UTP_MAX_DATAGRAM_BYTES + 1)],
    ];
    for (const [what, bytes] of refused) assert.throws(() => decodeUtpPacket(bytes), isUtpError, what);
    // Exactly the cap of extensions is fine.
    const eight = withExtensions(9, ...new Array(UTP_MAX_EXTENSIONS - 1).fill([9, 0]).flat(), 0, 0);
    assert.equal(decodeUtpPacket(eight).sack, undefined);
  });

  it('checks the datagram cap before reading anything', () => {
    // A huge buffer of garbage: refused for its size, not for its (invalid) version.
    const huge = new Uint8Array(UTP_MAX_DATAGRAM_BYTES + 1).fill(0xff);
    assert.throws(
      () => decodeUtpPacket(huge),
      (error: unknown) => {
        return isUtpError(error) && /too large/.test((error as Error).message);
      },
    );
  });

  it('refuses to encode a SACK BEP 29 does not allow (a bug of ours)', () => {
    for (const length of [0, 1, 3, 5, 36]) {
      assert.throws(
        () => encodeUtpPacket({ ...sample, sack: new Uint8Array(length) }),
        isUtpError,
        `${length}`,
      );
    }
  });
});
