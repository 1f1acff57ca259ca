import assert from 'node:assert/strict';
import { createDiffieHellman, createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { isTorkError, TorkErrorCode } from '../errors.js';
import {
  MSE_MAX_PAD_BYTES,
  MseInitiator,
  MseMethod,
  MseResponder,
  type MseResult,
  mseTorrentKey,
} from './mse-handshake.js';

const infoHash = randomBytes(20);
const other = randomBytes(20);
const keys = new Map(
  [infoHash, other].map((hash) => [Buffer.from(mseTorrentKey(hash)).toString('hex'), hash]),
);
const findTorrent = (key: Uint8Array) => keys.get(Buffer.from(key).toString('hex'));

const isHandshakeError = (error: unknown) => isTorkError(error, TorkErrorCode.WIRE_HANDSHAKE);

/** Runs both sides against each other, delivering at most `chunk` bytes at a time. */
function run(
  initiator: MseInitiator,
  responder: MseResponder,
  chunk = Number.POSITIVE_INFINITY,
  afterA: Uint8Array = new Uint8Array(0),
): { a: MseResult; b: MseResult } {
  let toB: Uint8Array[] = [initiator.start()];
  let toA: Uint8Array[] = [];
  let a: MseResult | undefined;
  let b: MseResult | undefined;
  for (let round = 0; round < 10_000 && !(a && b); round++) {
    const bBytes = Buffer.concat(toB);
    toB = [];
    for (let at = 0; at < bBytes.length && !b; at += chunk) {
      const step = responder.push(bBytes.subarray(at, Math.min(bBytes.length, at + chunk)));
      toA.push(...step.send);
      if (step.done) b = step.done;
    }
    const aBytes = Buffer.concat(toA);
    toA = [];
    for (let at = 0; at < aBytes.length && !a; at += chunk) {
      const step = initiator.push(aBytes.subarray(at, Math.min(aBytes.length, at + chunk)));
      toB.push(...step.send);
      if (step.done) {
        a = step.done;
        // The initiator's first payload (its BitTorrent handshake), encrypted as it will be.
        const payload = new Uint8Array(afterA);
        a.encrypt?.transform(payload);
        toB.push(payload);
      }
    }
  }
  assert.ok(a && b, 'both sides done');
  // What reached B after its handshake ended: payload, through B's stream like the session's.
  const late = Buffer.concat(toB);
  b.decrypt?.transform(late);
  return { a, b: { ...b, rest: Buffer.concat([b.rest, late]) } };
}

function streamsMatch({ a, b }: { a: MseResult; b: MseResult }): void {
  const message = randomBytes(5_000);
  const wire = new Uint8Array(message);
  a.encrypt?.transform(wire);
  if (a.method === MseMethod.rc4) assert.notDeepEqual(wire, new Uint8Array(message));
  b.decrypt?.transform(wire);
  assert.deepEqual(Buffer.from(wire), message);
  const back = randomBytes(3_000);
  const wireBack = new Uint8Array(back);
  b.encrypt?.transform(wireBack);
  a.decrypt?.transform(wireBack);
  assert.deepEqual(Buffer.from(wireBack), back);
}

describe('MSE handshake', () => {
  it('agrees on RC4 streams and the torrent, whatever the padding and however the bytes are cut', () => {
    for (const chunk of [1, 7, 97, Number.POSITIVE_INFINITY]) {
      const btHandshake = randomBytes(68);
      const result = run(
        new MseInitiator({ infoHash }),
        new MseResponder({ findTorrent }),
        chunk,
        btHandshake,
      );
      assert.equal(result.a.method, MseMethod.rc4);
      assert.equal(result.b.method, MseMethod.rc4);
      assert.deepEqual(Buffer.from(result.b.infoHash), infoHash);
      // The initiator's payload sent right after its handshake reached the responder decrypted.
      assert.deepEqual(Buffer.from(result.b.rest), btHandshake);
      streamsMatch(result);
    }
  });

  it("its Diffie-Hellman agrees with node:crypto's over the same prime (public keys and secret)", () => {
    const prime = Buffer.from(
      'ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74020bbea63b139b22514a08798e3404ddef9519b3cd3a431b302b0a6df25f14374fe1356d6d51c245e485b576625e7ec6f44c42e9a63a36210000000000090563',
      'hex',
    );
    const privateA = randomBytes(20);
    const privateB = randomBytes(20);
    const reference = createDiffieHellman(prime, 2);
    reference.setPrivateKey(privateA);
    reference.generateKeys();
    const a = new MseInitiator({ infoHash, privateKey: privateA, maxPad: 0 });
    const ya = a.start();
    assert.equal(Buffer.from(ya).toString('hex'), reference.getPublicKey('hex').padStart(192, '0'));
    // B answers with Yb; A's secret drives its first reply (HASH('req1', S)).
    const b = new MseResponder({ findTorrent, privateKey: privateB, maxPad: 0 });
    const yb = b.push(ya).send[0]!;
    const expectedS = Buffer.from(
      reference.computeSecret(Buffer.from(yb)).toString('hex').padStart(192, '0'),
      'hex',
    );
    const req1 = a.push(yb).send[0]!.subarray(0, 20);
    assert.deepEqual(Buffer.from(req1), createHash('sha1').update('req1').update(expectedS).digest());
  });

  it('settles on plaintext when one side allows only that (the header is still encrypted)', () => {
    const onlyPlain = run(
      new MseInitiator({ infoHash, provide: MseMethod.plaintext }),
      new MseResponder({ findTorrent }),
    );
    assert.equal(onlyPlain.a.method, MseMethod.plaintext);
    assert.equal(onlyPlain.a.encrypt, null);
    streamsMatch(onlyPlain);
    const prefersPlain = run(
      new MseInitiator({ infoHash }),
      new MseResponder({ findTorrent, prefer: MseMethod.plaintext }),
    );
    assert.equal(prefersPlain.b.method, MseMethod.plaintext, 'both offered: the responder prefers plaintext');
    const rc4Only = run(
      new MseInitiator({ infoHash, provide: MseMethod.rc4 }),
      new MseResponder({ findTorrent, prefer: MseMethod.plaintext }),
    );
    assert.equal(rc4Only.b.method, MseMethod.rc4, 'RC4 only offered: RC4 despite the preference');
    const acceptsPlain = run(
      new MseInitiator({ infoHash }),
      new MseResponder({ findTorrent, accept: MseMethod.plaintext }),
    );
    assert.equal(acceptsPlain.b.method, MseMethod.plaintext);
  });

  it('refuses: a torrent we do not have, no method in common', () => {
    assert.throws(
      () => run(new MseInitiator({ infoHash: randomBytes(20) }), new MseResponder({ findTorrent })),
      (error: unknown) => isHandshakeError(error) && /torrent we do not have/.test((error as Error).message),
    );
    assert.throws(
      () =>
        run(
          new MseInitiator({ infoHash, provide: MseMethod.plaintext }),
          new MseResponder({ findTorrent, accept: MseMethod.rc4 }),
        ),
      (error: unknown) => isHandshakeError(error) && /no method in common/.test((error as Error).message),
    );
  });

  it('hostile: garbage or trivial Diffie-Hellman keys are refused', () => {
    const p = Buffer.from(
      'ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74020bbea63b139b22514a08798e3404ddef9519b3cd3a431b302b0a6df25f14374fe1356d6d51c245e485b576625e7ec6f44c42e9a63a36210000000000090563',
      'hex',
    );
    const pMinus1 = Buffer.from(p);
    pMinus1[95]! -= 1;
    for (const key of [
      new Uint8Array(96),
      Uint8Array.of(...new Uint8Array(95), 1),
      pMinus1,
      p,
      Buffer.alloc(96, 0xff),
    ]) {
      assert.throws(() => new MseResponder({ findTorrent }).push(key), isHandshakeError);
      assert.throws(() => new MseInitiator({ infoHash }).push(key), isHandshakeError);
    }
  });

  it('hostile: no req1 within 512 bytes of padding; padding over the cap; a bad verification constant', () => {
    const responder = new MseResponder({ findTorrent });
    const initiator = new MseInitiator({ infoHash, maxPad: 0 });
    responder.push(initiator.start());
    // 600 bytes of "padding" and never HASH('req1', S).
    assert.throws(() => responder.push(randomBytes(MSE_MAX_PAD_BYTES + 100)), isHandshakeError);

    // The initiator: a responder whose PadB runs past 512 bytes without the VC.
    const a = new MseInitiator({ infoHash });
    a.start();
    const b = new MseResponder({ findTorrent, maxPad: 0 });
    const yb = b.push(new MseInitiator({ infoHash }).start()).send[0]!;
    assert.throws(() => a.push(Buffer.concat([yb, randomBytes(MSE_MAX_PAD_BYTES + 20)])), isHandshakeError);
  });

  it('hostile: a handshake that stops half-way never completes (the session deadline ends it)', () => {
    const responder = new MseResponder({ findTorrent });
    const step = responder.push(new MseInitiator({ infoHash }).start().subarray(0, 50));
    assert.deepEqual(step.send, []);
    assert.equal(step.done, undefined);
  });
});
