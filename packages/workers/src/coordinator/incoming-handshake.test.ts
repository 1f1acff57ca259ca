/**
 * IncomingHandshake tells a plain handshake from an MSE one by the first 20 bytes. The case that
 * broke: an MSE public key (Ya) is random, so once in 256 connections it starts with 19, the
 * plain handshake's first byte; judged by that byte alone, such encrypted peers were refused.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  type EncryptionPolicy,
  encodeHandshake,
  MseInitiator,
  MseMethod,
  mseTorrentKey,
  PROTOCOL_STRING,
} from '@tork/core';
import { IncomingHandshake, type IncomingHandshakeStep } from './incoming-handshake.js';

const INFO_HASH = new Uint8Array(20).fill(0xab);
const KEY = Buffer.from(mseTorrentKey(INFO_HASH)).toString('hex');
const HANDSHAKE = encodeHandshake({ infoHash: INFO_HASH, peerId: new Uint8Array(20).fill(0x31) });

const incoming = (encryption: EncryptionPolicy) =>
  new IncomingHandshake({
    encryption,
    findMseTorrent: (key) => (Buffer.from(key).toString('hex') === KEY ? INFO_HASH : undefined),
  });

/** An initiator whose Ya starts with `firstByte` (searched over random private keys). */
function initiatorWhoseKeyStartsWith(
  firstByte: number,
  provide?: number,
): { initiator: MseInitiator; ya: Uint8Array } {
  for (let tries = 0; tries < 20_000; tries++) {
    const initiator = new MseInitiator({
      infoHash: INFO_HASH,
      maxPad: 0,
      privateKey: randomBytes(20),
      provide,
    });
    const ya = initiator.start();
    if (ya[0] === firstByte) return { initiator, ya };
  }
  throw new Error(`no key starting with ${firstByte} in 20,000 tries`);
}

/** Runs the whole MSE exchange, `split` bytes at a time from the initiator; returns the last step. */
function exchange(
  handshake: IncomingHandshake,
  initiator: MseInitiator,
  ya: Uint8Array,
  split = Number.POSITIVE_INFINITY,
): IncomingHandshakeStep {
  const feed = (bytes: Uint8Array): IncomingHandshakeStep[] => {
    const steps: IncomingHandshakeStep[] = [];
    for (let at = 0; at < bytes.length; at += split)
      steps.push(handshake.push(bytes.subarray(at, at + split)));
    return steps;
  };
  let steps = feed(ya);
  for (let round = 0; round < 10; round++) {
    const last = steps.at(-1)!;
    if (last.done || last.refused) return last;
    const replies = steps.flatMap((step) => step.send);
    if (replies.length === 0) return last;
    const toSend: Uint8Array[] = [];
    for (const reply of replies) {
      const step = initiator.push(reply);
      toSend.push(...step.send);
      if (step.done) {
        const plain = new Uint8Array(HANDSHAKE);
        step.done.encrypt?.transform(plain);
        toSend.push(plain);
      }
    }
    steps = toSend.flatMap(feed);
  }
  throw new Error('the exchange did not settle in 10 rounds');
}

describe('IncomingHandshake: plain or MSE from the first 20 bytes', () => {
  for (const policy of ['prefer', 'require'] as const) {
    it(`${policy}: an MSE peer whose Ya starts with 19 (the plain length byte) is answered, not refused`, () => {
      const { initiator, ya } = initiatorWhoseKeyStartsWith(19);
      const step = exchange(incoming(policy), initiator, ya);
      assert.equal(step.refused, undefined);
      assert.ok(step.done, 'the handshake completes');
      assert.equal(step.done.infoHashHex, 'ab'.repeat(20));
      assert.equal(step.done.mse?.method, policy === 'require' ? MseMethod.rc4 : MseMethod.plaintext);
    });
  }

  it('a Ya starting with 19 and the next bytes fed one at a time: still MSE', () => {
    const { initiator, ya } = initiatorWhoseKeyStartsWith(19);
    const step = exchange(incoming('prefer'), initiator, ya, 1);
    assert.ok(step.done);
    assert.ok(step.done.mse);
  });

  it('a Ya starting with any other byte: MSE as before', () => {
    const { initiator, ya } = initiatorWhoseKeyStartsWith(0x42);
    assert.ok(exchange(incoming('prefer'), initiator, ya).done?.mse);
  });

  it('a plain handshake, whole or a byte at a time: waits for 20 bytes to decide, then reads it', () => {
    const whole = incoming('prefer').push(HANDSHAKE);
    assert.equal(whole.done?.infoHashHex, 'ab'.repeat(20));
    assert.equal(whole.done?.mse, undefined);
    const handshake = incoming('prefer');
    for (let i = 0; i < HANDSHAKE.length - 1; i++) {
      const step = handshake.push(HANDSHAKE.subarray(i, i + 1));
      assert.equal(step.done, undefined, `byte ${i}`);
      assert.equal(step.refused, undefined, `byte ${i}`);
      assert.equal(step.send.length, 0, `byte ${i}: nothing sent before the opening is known`);
    }
    const last = handshake.push(HANDSHAKE.subarray(HANDSHAKE.length - 1));
    assert.equal(last.done?.infoHashHex, 'ab'.repeat(20));
    assert.deepEqual(Buffer.from(last.done.initial), Buffer.from(HANDSHAKE));
  });

  it('require refuses a plain handshake once its 20 bytes are in; disable refuses MSE and garbage', () => {
    const require = incoming('require');
    assert.equal(require.push(HANDSHAKE.subarray(0, 19)).refused, undefined);
    assert.equal(require.push(HANDSHAKE.subarray(19, 20)).refused, true);
    const { ya } = initiatorWhoseKeyStartsWith(19);
    assert.equal(incoming('disable').push(ya).refused, true);
    assert.equal(incoming('disable').push(Buffer.from('GET / HTTP/1.1\r\n')).refused, true);
    // 19, then bytes that are not the protocol name: not plain; with MSE off, refused at once.
    assert.equal(incoming('disable').push(Buffer.from(`\x13${PROTOCOL_STRING.toLowerCase()}`)).refused, true);
  });

  it('prefer hands garbage to the MSE responder, which refuses it at its padding cap', () => {
    const handshake = incoming('prefer');
    const first = handshake.push(Buffer.alloc(96, 0x13));
    assert.equal(first.refused, undefined, 'a 96-byte key is taken as Ya');
    assert.equal(first.send.length, 1, 'Yb goes back');
    assert.equal(handshake.push(randomBytes(700)).refused, true);
  });
});
