import { createHash, randomBytes, randomInt } from 'node:crypto';
import { TorkError, TorkErrorCode } from '../errors.js';
import { Rc4, type Rc4State } from './rc4.js';

/**
 * Message stream encryption (MSE/PE, "Protocol Encryption" as Vuze and libtorrent speak it): a
 * Diffie-Hellman exchange over the 768-bit prime below, the torrent found by a hash of its
 * info-hash (SKEY) so an observer cannot read it, then RC4 (first 1,024 bytes of keystream
 * discarded) or, if both ends agree, plaintext for the rest of the stream. Pure: bytes in, bytes
 * out, no sockets; the peer host (outgoing) and the Listener (incoming) drive it.
 */

/** The spec's 768-bit safe prime P; the generator G is 2. */
const PRIME_HEX =
  'ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74020bbea63b139b22514a08798e3404ddef9519b3cd3a431b302b0a6df25f14374fe1356d6d51c245e485b576625e7ec6f44c42e9a63a36210000000000090563';
/** Bytes of a public key (Ya, Yb) and of the shared secret S. */
export const MSE_KEY_BYTES = 96;
/** Longest padding the spec allows (PadA, PadB, PadC, PadD); longer is a protocol error. */
export const MSE_MAX_PAD_BYTES = 512;
/**
 * Longest initial payload (IA) we accept from an initiator: it carries the BitTorrent handshake
 * (68 bytes) and perhaps a little more; the spec's 16-bit length would allow 64 KiB.
 */
export const MSE_MAX_INITIAL_PAYLOAD_BYTES = 16 * 1024;
/** crypto_provide / crypto_select bits. */
export const MseMethod = { plaintext: 0x01, rc4: 0x02 } as const;
export type MseMethod = (typeof MseMethod)[keyof typeof MseMethod];

const RC4_DISCARD = 1024;

/** How a handshake ended: the method chosen, the streams' states, and payload already received. */
export interface MseResult {
  readonly method: MseMethod;
  /** Our outgoing stream (null for plaintext). */
  readonly encrypt: Rc4 | null;
  /** The peer's incoming stream (null for plaintext). */
  readonly decrypt: Rc4 | null;
  /** Payload bytes that arrived with the handshake, already decrypted (the responder: IA first). */
  readonly rest: Uint8Array;
  /** The torrent the initiator asked for (SKEY: its info-hash). */
  readonly infoHash: Uint8Array;
}

/** An MseResult's streams as plain data, to cross a thread. */
export interface MseStreams {
  readonly method: MseMethod;
  readonly encrypt: Rc4State | null;
  readonly decrypt: Rc4State | null;
}

export function mseStreams(result: MseResult): MseStreams {
  return {
    method: result.method,
    encrypt: result.encrypt?.snapshot() ?? null,
    decrypt: result.decrypt?.snapshot() ?? null,
  };
}

/** What a `push` gives back: bytes to send now, and the result once the handshake is over. */
export interface MseStep {
  readonly send: Uint8Array[];
  readonly done?: MseResult;
}

function sha1(...parts: Uint8Array[]): Uint8Array {
  const hash = createHash('sha1');
  for (const part of parts) hash.update(part);
  return hash.digest();
}

const text = (value: string) => Buffer.from(value, 'latin1');
const REQ1 = text('req1');
const REQ2 = text('req2');
const REQ3 = text('req3');
const KEY_A = text('keyA');
const KEY_B = text('keyB');

/** HASH('req2', SKEY): how an initiator names a torrent (xored with HASH('req3', S)). */
export function mseTorrentKey(infoHash: Uint8Array): Uint8Array {
  return sha1(REQ2, infoHash);
}

function fail(message: string, details: Record<string, string | number> = {}): never {
  throw new TorkError(TorkErrorCode.WIRE_HANDSHAKE, `encrypted handshake: ${message}`, {
    phase: 'mse',
    ...details,
  });
}

const P = BigInt(`0x${PRIME_HEX}`);

function toBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
}

function toBytes(value: bigint): Uint8Array {
  return Buffer.from(value.toString(16).padStart(MSE_KEY_BYTES * 2, '0'), 'hex');
}

function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let b = base % modulus;
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
    e >>= 1n;
  }
  return result;
}

/**
 * One side's Diffie-Hellman keys; `privateKey` only for tests (known vectors). BigInt, not
 * node:crypto: `createDiffieHellman(prime)` checks the prime's primality on every call (23 ms
 * here, on the coordinator's thread for each incoming connection), and the named group `modp1`
 * (the same prime) costs as much with a full-size exponent; a 160-bit exponent, as the spec
 * suggests and libtorrent uses, takes about half a millisecond in BigInt.
 */
class DhKeys {
  readonly #private: bigint;
  readonly publicKey: Uint8Array;

  constructor(privateKey?: Uint8Array) {
    this.#private = toBigInt(privateKey ?? randomBytes(20));
    this.publicKey = toBytes(modPow(2n, this.#private, P));
  }

  /** S, 96 bytes; a peer key of 0, 1, P-1 or beyond P is refused (it would fix S). */
  secret(peerKey: Uint8Array): Uint8Array {
    const value = toBigInt(peerKey);
    if (value <= 1n || value >= P - 1n) fail('the peer sent an invalid Diffie-Hellman key');
    return toBytes(modPow(value, this.#private, P));
  }
}

function padding(maxPad: number): Uint8Array {
  return randomBytes(maxPad > 0 ? randomInt(0, maxPad + 1) : 0);
}

/** Grows a byte buffer within a hard cap (checked before any copy). */
class Inbox {
  #bytes = new Uint8Array(0);
  #at = 0;

  constructor(readonly cap: number) {}

  push(chunk: Uint8Array): void {
    const length = this.length + chunk.length;
    if (length > this.cap) fail('too many bytes before the handshake ended', { cap: this.cap });
    const next = new Uint8Array(length);
    next.set(this.#bytes.subarray(this.#at));
    next.set(chunk, length - chunk.length);
    this.#bytes = next;
    this.#at = 0;
  }

  get length(): number {
    return this.#bytes.length - this.#at;
  }

  peek(length: number, offset = 0): Uint8Array {
    return this.#bytes.subarray(this.#at + offset, this.#at + offset + length);
  }

  take(length: number): Uint8Array {
    const out = this.#bytes.slice(this.#at, this.#at + length);
    this.#at += length;
    return out;
  }

  /** Offset of `needle` within the first `limit + needle.length` bytes, or -1. */
  find(needle: Uint8Array, limit: number): number {
    const end = Math.min(this.length - needle.length, limit);
    outer: for (let k = 0; k <= end; k++) {
      for (let n = 0; n < needle.length; n++) {
        if (this.#bytes[this.#at + k + n] !== needle[n]) continue outer;
      }
      return k;
    }
    return -1;
  }
}

/** Most bytes either side can receive before its handshake ends (pads, hashes, IA): the inbox cap. */
const MAX_HANDSHAKE_BYTES = MSE_KEY_BYTES + MSE_MAX_PAD_BYTES + 20 + 20 + 14 + MSE_MAX_PAD_BYTES + 2;
/** A chunk may carry payload past the handshake: room for one socket read on top. */
const INBOX_CAP = MAX_HANDSHAKE_BYTES + MSE_MAX_INITIAL_PAYLOAD_BYTES + 256 * 1024;

export interface MseInitiatorOptions {
  /** The torrent to ask for (SKEY). */
  readonly infoHash: Uint8Array;
  /** Methods offered (bits of MseMethod). Default: RC4 and plaintext. */
  readonly provide?: number;
  /** Longest random padding we send. Default: 512. Tests: 0. */
  readonly maxPad?: number;
  /** Tests: a fixed private key. */
  readonly privateKey?: Uint8Array;
}

/** The side that dialled (A). `start()` gives Ya + PadA; then `push` what the peer sends. */
export class MseInitiator {
  readonly #options: MseInitiatorOptions;
  readonly #keys: DhKeys;
  readonly #inbox = new Inbox(INBOX_CAP);
  #state: 'key' | 'vc' | 'select' | 'pad' | 'done' = 'key';
  #decrypt: Rc4 | null = null;
  #encrypt: Rc4 | null = null;
  #expectedVc: Uint8Array | null = null;
  #method: MseMethod = MseMethod.rc4;
  #padD = 0;

  constructor(options: MseInitiatorOptions) {
    this.#options = options;
    this.#keys = new DhKeys(options.privateKey);
  }

  start(): Uint8Array {
    return Buffer.concat([this.#keys.publicKey, padding(this.#options.maxPad ?? MSE_MAX_PAD_BYTES)]);
  }

  push(chunk: Uint8Array): MseStep {
    if (this.#state === 'done') throw new Error('MseInitiator: the handshake is over');
    this.#inbox.push(chunk);
    const send: Uint8Array[] = [];
    for (;;) {
      if (this.#state === 'key') {
        if (this.#inbox.length < MSE_KEY_BYTES) return { send };
        const secret = this.#keys.secret(this.#inbox.take(MSE_KEY_BYTES));
        const skey = this.#options.infoHash;
        this.#encrypt = Rc4.create(sha1(KEY_A, secret, skey), RC4_DISCARD);
        this.#decrypt = Rc4.create(sha1(KEY_B, secret, skey), RC4_DISCARD);
        const vc = new Uint8Array(8);
        Rc4.restore(this.#decrypt.snapshot()).transform(vc);
        this.#expectedVc = vc;
        const obfuscated = mseTorrentKey(skey);
        const req3 = sha1(REQ3, secret);
        for (let i = 0; i < 20; i++) obfuscated[i]! ^= req3[i]!;
        const provide = this.#options.provide ?? MseMethod.rc4 | MseMethod.plaintext;
        // VC, crypto_provide, len(PadC) = 0, len(IA) = 0: our BitTorrent handshake follows as payload.
        const plain = new Uint8Array(8 + 4 + 2 + 2);
        new DataView(plain.buffer).setUint32(8, provide);
        this.#encrypt.transform(plain);
        send.push(Buffer.concat([sha1(REQ1, secret), obfuscated, plain]));
        this.#state = 'vc';
      }
      if (this.#state === 'vc') {
        const at = this.#inbox.find(this.#expectedVc!, MSE_MAX_PAD_BYTES);
        if (at < 0) {
          if (this.#inbox.length >= MSE_MAX_PAD_BYTES + 8)
            fail('no verification constant within 512 bytes of padding');
          return { send };
        }
        this.#inbox.take(at);
        this.#decrypt!.transform(this.#inbox.take(8));
        this.#state = 'select';
      }
      if (this.#state === 'select') {
        if (this.#inbox.length < 6) return { send };
        const head = this.#inbox.take(6);
        this.#decrypt!.transform(head);
        const view = new DataView(head.buffer, head.byteOffset, 6);
        const select = view.getUint32(0);
        const provide = this.#options.provide ?? MseMethod.rc4 | MseMethod.plaintext;
        if ((select !== MseMethod.rc4 && select !== MseMethod.plaintext) || (select & provide) === 0) {
          fail('the peer selected a method we did not offer', { select });
        }
        this.#method = select as MseMethod;
        this.#padD = view.getUint16(4);
        if (this.#padD > MSE_MAX_PAD_BYTES) fail('padding over 512 bytes', { pad: this.#padD });
        this.#state = 'pad';
      }
      if (this.#state === 'pad') {
        if (this.#inbox.length < this.#padD) return { send };
        this.#decrypt!.transform(this.#inbox.take(this.#padD));
        this.#state = 'done';
        const rest = this.#inbox.take(this.#inbox.length);
        const rc4 = this.#method === MseMethod.rc4;
        if (rc4) this.#decrypt!.transform(rest);
        return {
          send,
          done: {
            method: this.#method,
            encrypt: rc4 ? this.#encrypt : null,
            decrypt: rc4 ? this.#decrypt : null,
            rest,
            infoHash: this.#options.infoHash,
          },
        };
      }
    }
  }
}

export interface MseResponderOptions {
  /**
   * The info-hash named by HASH('req2', SKEY) (see `mseTorrentKey`), or undefined when we have no
   * such torrent (the handshake fails).
   */
  readonly findTorrent: (torrentKey: Uint8Array) => Uint8Array | undefined;
  /** Methods we accept. Default: RC4 and plaintext. */
  readonly accept?: number;
  /**
   * Chosen when the initiator offers both and we accept both. Default: RC4. tork's Listener under
   * `prefer` picks plaintext, as libtorrent does by default (`prefer_rc4` off): the handshake is
   * obfuscated, the bulk costs nothing.
   */
  readonly prefer?: MseMethod;
  /** Longest random padding we send. Default: 512. */
  readonly maxPad?: number;
  readonly privateKey?: Uint8Array;
}

/** The side that was dialled (B). `push` what the initiator sends; send what comes back. */
export class MseResponder {
  readonly #options: MseResponderOptions;
  readonly #keys: DhKeys;
  readonly #inbox = new Inbox(INBOX_CAP);
  #state: 'key' | 'req1' | 'skey' | 'provide' | 'pad' | 'ia' | 'done' = 'key';
  #secret: Uint8Array = new Uint8Array(0);
  #req1: Uint8Array = new Uint8Array(0);
  #infoHash: Uint8Array = new Uint8Array(0);
  #decrypt: Rc4 | null = null;
  #encrypt: Rc4 | null = null;
  #method: MseMethod = MseMethod.rc4;
  #padC = 0;
  #ia = 0;

  constructor(options: MseResponderOptions) {
    this.#options = options;
    this.#keys = new DhKeys(options.privateKey);
  }

  push(chunk: Uint8Array): MseStep {
    if (this.#state === 'done') throw new Error('MseResponder: the handshake is over');
    this.#inbox.push(chunk);
    const send: Uint8Array[] = [];
    for (;;) {
      if (this.#state === 'key') {
        if (this.#inbox.length < MSE_KEY_BYTES) return { send };
        this.#secret = this.#keys.secret(this.#inbox.take(MSE_KEY_BYTES));
        this.#req1 = sha1(REQ1, this.#secret);
        send.push(Buffer.concat([this.#keys.publicKey, padding(this.#options.maxPad ?? MSE_MAX_PAD_BYTES)]));
        this.#state = 'req1';
      }
      if (this.#state === 'req1') {
        const at = this.#inbox.find(this.#req1, MSE_MAX_PAD_BYTES);
        if (at < 0) {
          if (this.#inbox.length >= MSE_MAX_PAD_BYTES + 20)
            fail('no HASH(req1, S) within 512 bytes of padding');
          return { send };
        }
        this.#inbox.take(at + 20);
        this.#state = 'skey';
      }
      if (this.#state === 'skey') {
        if (this.#inbox.length < 20) return { send };
        const key = this.#inbox.take(20);
        const req3 = sha1(REQ3, this.#secret);
        for (let i = 0; i < 20; i++) key[i]! ^= req3[i]!;
        const infoHash = this.#options.findTorrent(key);
        if (!infoHash) fail('the peer asked for a torrent we do not have');
        this.#infoHash = infoHash;
        this.#decrypt = Rc4.create(sha1(KEY_A, this.#secret, infoHash), RC4_DISCARD);
        this.#encrypt = Rc4.create(sha1(KEY_B, this.#secret, infoHash), RC4_DISCARD);
        this.#state = 'provide';
      }
      if (this.#state === 'provide') {
        if (this.#inbox.length < 14) return { send };
        const head = this.#inbox.take(14);
        this.#decrypt!.transform(head);
        for (let i = 0; i < 8; i++) if (head[i] !== 0) fail('bad verification constant');
        const view = new DataView(head.buffer, head.byteOffset, 14);
        const provide = view.getUint32(8);
        const accept = this.#options.accept ?? MseMethod.rc4 | MseMethod.plaintext;
        const both = provide & accept;
        const prefer = this.#options.prefer ?? MseMethod.rc4;
        if ((both & prefer) !== 0) this.#method = prefer;
        else if ((both & MseMethod.rc4) !== 0) this.#method = MseMethod.rc4;
        else if ((both & MseMethod.plaintext) !== 0) this.#method = MseMethod.plaintext;
        else fail('no method in common', { provide, accept });
        this.#padC = view.getUint16(12);
        if (this.#padC > MSE_MAX_PAD_BYTES) fail('padding over 512 bytes', { pad: this.#padC });
        this.#state = 'pad';
      }
      if (this.#state === 'pad') {
        if (this.#inbox.length < this.#padC + 2) return { send };
        const pad = this.#inbox.take(this.#padC + 2);
        this.#decrypt!.transform(pad);
        this.#ia = (pad[this.#padC]! << 8) | pad[this.#padC + 1]!;
        if (this.#ia > MSE_MAX_INITIAL_PAYLOAD_BYTES) {
          fail('initial payload too long', { length: this.#ia, cap: MSE_MAX_INITIAL_PAYLOAD_BYTES });
        }
        this.#state = 'ia';
      }
      if (this.#state === 'ia') {
        if (this.#inbox.length < this.#ia) return { send };
        // IA is encrypted whatever the method chosen; what follows it is RC4 or plaintext.
        const ia = this.#inbox.take(this.#ia);
        this.#decrypt!.transform(ia);
        const reply = new Uint8Array(8 + 4 + 2);
        new DataView(reply.buffer).setUint32(8, this.#method);
        this.#encrypt!.transform(reply);
        send.push(reply);
        const after = this.#inbox.take(this.#inbox.length);
        const rc4 = this.#method === MseMethod.rc4;
        if (rc4) this.#decrypt!.transform(after);
        this.#state = 'done';
        return {
          send,
          done: {
            method: this.#method,
            encrypt: rc4 ? this.#encrypt : null,
            decrypt: rc4 ? this.#decrypt : null,
            rest: Buffer.concat([ia, after]),
            infoHash: this.#infoHash,
          },
        };
      }
    }
  }
}
