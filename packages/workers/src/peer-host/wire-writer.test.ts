import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  encodeCancel,
  encodeHave,
  encodeInterested,
  encodeKeepAlive,
  encodeNotInterested,
  encodePiece,
  encodeRejectRequest,
  encodeRequest,
  WireMessageId,
} from '@tork/core';
import { BufferPool } from './buffer-pool.js';
import { GATHER_BYTES, WireWriter } from './wire-writer.js';

describe('WireWriter', () => {
  let server: Server;
  const accepted: Socket[] = [];
  const sockets: Socket[] = [];
  before(async () => {
    server = createServer((socket) => accepted.push(socket));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  });
  after(() => {
    for (const socket of [...sockets, ...accepted]) socket.destroy();
    server.close();
  });

  it('encodes small messages in place, keeps order, and writes them in one go', async () => {
    const address = server.address();
    assert.ok(address && typeof address === 'object');
    const client = connect(address.port, '127.0.0.1');
    sockets.push(client);
    await once(client, 'connect');
    while (accepted.length < 1) await new Promise((resolve) => setImmediate(resolve));
    const remote = accepted[0]!;
    const writer = new WireWriter();
    writer.simple(WireMessageId.interested);
    for (let i = 0; i < 100; i++) writer.block(WireMessageId.request, i, 16_384, 16_384); // spans two runs
    writer.push(Uint8Array.of(0, 0, 0, 1, 1));
    writer.have(0x01020304);
    writer.keepAlive();
    const expected = 5 + 100 * 17 + 5 + 9 + 4;
    assert.equal(writer.size, expected);
    let writes = 0;
    const write = client.write.bind(client);
    client.write = ((...args: Parameters<typeof client.write>) => {
      writes++;
      return write(...args);
    }) as typeof client.write;
    assert.equal(writer.writeTo(client), expected);
    assert.equal(writer.size, 0);
    const received: Buffer[] = [];
    let length = 0;
    remote.on('data', (chunk: Buffer) => {
      received.push(chunk);
      length += chunk.length;
    });
    while (length < expected) await once(remote, 'data');
    const bytes = Buffer.concat(received);
    assert.deepEqual([...bytes.subarray(0, 5)], [0, 0, 0, 1, 2]);
    for (let i = 0; i < 100; i++) {
      const at = 5 + i * 17;
      assert.equal(bytes.readUInt32BE(at), 13);
      assert.equal(bytes[at + 4], 6);
      assert.equal(bytes.readUInt32BE(at + 5), i);
      assert.equal(bytes.readUInt32BE(at + 9), 16_384);
      assert.equal(bytes.readUInt32BE(at + 13), 16_384);
    }
    const tail = bytes.subarray(5 + 1700);
    assert.deepEqual([...tail], [0, 0, 0, 1, 1, 0, 0, 0, 5, 4, 1, 2, 3, 4, 0, 0, 0, 0]);
    assert.ok(writes <= 4, `${writes} socket writes for 104 messages (one corked batch)`);
  });

  it('writes exactly what the core codec encodes', () => {
    const written: Uint8Array[] = [];
    const fake = {
      destroyed: false,
      cork() {},
      uncork() {},
      write(chunk: Uint8Array) {
        written.push(chunk);
        return true;
      },
    } as unknown as Socket;
    const writer = new WireWriter();
    writer.simple(WireMessageId.interested);
    writer.simple(WireMessageId.notInterested);
    writer.have(123_456);
    writer.block(WireMessageId.request, 1, 16_384, 100);
    writer.block(WireMessageId.cancel, 2, 0, 16_384);
    writer.block(WireMessageId.rejectRequest, 3, 32_768, 5);
    writer.keepAlive();
    writer.writeTo(fake);
    const expected = Buffer.concat([
      encodeInterested(),
      encodeNotInterested(),
      encodeHave(123_456),
      encodeRequest(1, 16_384, 100),
      encodeCancel(2, 0, 16_384),
      encodeRejectRequest(3, 32_768, 5),
      encodeKeepAlive(),
    ]);
    assert.deepEqual(Buffer.concat(written), expected);
    assert.equal(written.length, 1, 'one chunk: all in one run buffer');
  });
  it('copies piece blocks into pooled gather buffers, in order with other messages, and hands the buffers over', () => {
    const pool = new BufferPool(4 * GATHER_BYTES);
    const writer = new WireWriter(pool);
    const block = new Uint8Array(16_384).map((_, i) => i & 0xff);
    writer.have(7);
    writer.pushPiece(3, 16_384, block);
    block.fill(0); // the caller may reuse its bytes at once: the writer has its copy
    writer.pushPiece(3, 32_768, block);
    writer.simple(WireMessageId.unchoke);
    const { chunks, bytes, owned } = writer.take();
    const expected = Buffer.concat([
      encodeHave(7),
      encodePiece(
        3,
        16_384,
        new Uint8Array(16_384).map((_, i) => i & 0xff),
      ),
      encodePiece(3, 32_768, new Uint8Array(16_384)),
      Uint8Array.of(0, 0, 0, 1, WireMessageId.unchoke),
    ]);
    assert.deepEqual(Buffer.concat(chunks), expected);
    assert.equal(bytes, expected.length);
    assert.equal(owned.length, 1, 'both blocks in one gather buffer');
    assert.equal(owned[0]!.byteLength, GATHER_BYTES);
    assert.equal(writer.size, 0);
    // Given back once written: the next turn gathers into the same buffer.
    for (const buffer of owned) pool.give(buffer);
    writer.pushPiece(4, 0, block);
    assert.equal(writer.take().owned[0], owned[0]);
  });

  it('starts a new gather buffer when one is full, and gives pending ones back on clear', () => {
    const pool = new BufferPool(8 * GATHER_BYTES);
    const writer = new WireWriter(pool);
    // 15 messages of a 16 KiB block fit in one gather buffer, the 16th starts another.
    const block = new Uint8Array(16 * 1024);
    for (let i = 0; i < 20; i++) writer.pushPiece(i, 0, block);
    assert.equal(writer.size, 20 * (13 + 16 * 1024));
    writer.clear();
    assert.equal(pool.bytes, 2 * GATHER_BYTES, 'both gather buffers back in the pool');
  });
});
