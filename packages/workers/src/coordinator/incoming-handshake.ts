// Module paths, not the package index: a peer host loads this (host-listener.ts), and the index
// would bring the whole engine, zod included, into its bundle.
import type { EncryptionPolicy } from '@tork/core/internal/mse/encryption-policy.js';
import {
  MseMethod,
  MseResponder,
  type MseResult,
  type MseStreams,
  mseStreams,
} from '@tork/core/internal/mse/mse-handshake.js';
import {
  checkHandshakePrefix,
  HANDSHAKE_LENGTH,
  PROTOCOL_BYTES,
  parseHandshake,
} from '@tork/core/internal/wire/handshake.js';

/** What an incoming connection's first bytes said, once they named a torrent. */
export interface IncomingHandshakeDone {
  /** Info-hash from the peer's handshake, lowercase hex. */
  readonly infoHashHex: string;
  /** Plaintext BitTorrent bytes read so far (decrypted after MSE), the peer's handshake first. */
  readonly initial: Uint8Array;
  /** The streams' states when the peer opened with an MSE handshake. */
  readonly mse?: MseStreams;
}

/** One step: bytes to send back (the MSE responder's), and the outcome once there is one. */
export interface IncomingHandshakeStep {
  readonly send: readonly Uint8Array[];
  /** The handshake is complete: hand the connection to an actor. */
  readonly done?: IncomingHandshakeDone;
  /** Not a BitTorrent peer we take (garbage, HTTP, a refused or failed MSE handshake). */
  readonly refused?: true;
}

export interface IncomingHandshakeOptions {
  /** `prefer`: MSE and plain; `require`: MSE with RC4 only; `disable`: plain only. */
  readonly encryption: EncryptionPolicy;
  /** The info-hash an MSE handshake names by HASH('req2', SKEY); none: MSE refused. */
  readonly findMseTorrent?: ((key: Uint8Array) => Uint8Array | undefined) | undefined;
}

const NOTHING: readonly Uint8Array[] = [];

/**
 * The first bytes of an incoming connection, whatever carries it (the Listener's TCP sockets, the
 * UDP host's uTP streams): a plain BitTorrent handshake, or an MSE/PE handshake (answered here)
 * followed by one, read until the torrent is known. Pure: chunks in, replies and an outcome out.
 */
export class IncomingHandshake {
  readonly #options: IncomingHandshakeOptions;
  /** Plaintext BitTorrent bytes so far (decrypted when the peer opened with MSE). */
  #buffered = new Uint8Array(0);
  #responder: MseResponder | null = null;
  #mse: MseResult | null = null;
  #over = false;

  constructor(options: IncomingHandshakeOptions) {
    this.#options = options;
  }

  /** The peer opened with an MSE handshake. */
  get encrypted(): boolean {
    return this.#responder !== null;
  }

  /** Feeds the next chunk; after `done` or `refused`, further chunks are refused. */
  push(chunk: Uint8Array): IncomingHandshakeStep {
    if (this.#over) return { send: NOTHING, refused: true };
    const step = this.#push(chunk);
    if (step.done || step.refused) this.#over = true;
    return step;
  }

  #push(chunk: Uint8Array): IncomingHandshakeStep {
    const { encryption, findMseTorrent } = this.#options;
    let send: readonly Uint8Array[] = NOTHING;
    let mseBytes: Uint8Array | null = null;
    if (this.#mse) {
      // After the MSE handshake: the rest of the peer's BitTorrent handshake, decrypted.
      const plain = new Uint8Array(chunk);
      this.#mse.decrypt?.transform(plain);
      this.#append(plain);
    } else if (this.#responder) {
      mseBytes = chunk;
    } else {
      // Undecided: the bytes so far, raw, until they tell a plain handshake from MSE's Ya.
      this.#append(chunk);
      const opening = plainOpening(this.#buffered);
      if (opening === 'undecided') return { send };
      if (opening === 'plain') {
        if (encryption === 'require') return { send, refused: true };
      } else {
        // An MSE handshake (Ya), or garbage the responder refuses.
        if (encryption === 'disable' || !findMseTorrent) return { send, refused: true };
        this.#responder = new MseResponder({
          findTorrent: findMseTorrent,
          accept: encryption === 'require' ? MseMethod.rc4 : MseMethod.rc4 | MseMethod.plaintext,
          // `prefer`: plaintext after the obfuscated handshake when the peer allows it, as
          // libtorrent does by default; the peer's own policy may still insist on RC4.
          prefer: MseMethod.plaintext,
        });
        mseBytes = this.#buffered;
        this.#buffered = new Uint8Array(0);
      }
    }
    if (mseBytes && this.#responder) {
      try {
        const step = this.#responder.push(mseBytes);
        send = step.send;
        if (!step.done) return { send };
        this.#mse = step.done;
        this.#append(this.#mse.rest);
      } catch {
        // A bad key, a torrent we do not have, padding over the cap: refused.
        return { send, refused: true };
      }
    }
    const buffered = this.#buffered;
    try {
      // Refuse HTTP or garbage on the first bytes, before waiting for 68 of them.
      checkHandshakePrefix(buffered, Math.min(buffered.length, HANDSHAKE_LENGTH));
    } catch {
      return { send, refused: true };
    }
    if (buffered.length < HANDSHAKE_LENGTH) return { send };
    const handshake = parseHandshake(buffered);
    const mse = this.#mse;
    // An encrypted handshake named its torrent twice (SKEY, then the handshake): they must agree.
    if (mse && Buffer.compare(Buffer.from(handshake.infoHash), Buffer.from(mse.infoHash)) !== 0)
      return { send, refused: true };
    return {
      send,
      done: {
        infoHashHex: Buffer.from(handshake.infoHash).toString('hex'),
        initial: buffered,
        ...(mse ? { mse: mseStreams(mse) } : {}),
      },
    };
  }

  #append(chunk: Uint8Array): void {
    const next = new Uint8Array(this.#buffered.length + chunk.length);
    next.set(this.#buffered);
    next.set(chunk, this.#buffered.length);
    this.#buffered = next;
  }
}

/** "\x13BitTorrent protocol": the 20 bytes every plain handshake opens with. */
const PLAIN_OPENING = Uint8Array.of(PROTOCOL_BYTES.length, ...PROTOCOL_BYTES);

/**
 * Whether a connection's first bytes open a plain handshake. All 20 bytes are compared, not only
 * the first: an MSE public key (Ya) is random and starts with 19 once in 256 connections; judged
 * by that byte alone, those encrypted peers were refused as broken plain handshakes (libtorrent
 * also compares the whole string).
 */
function plainOpening(bytes: Uint8Array): 'plain' | 'mse' | 'undecided' {
  const end = Math.min(bytes.length, PLAIN_OPENING.length);
  for (let i = 0; i < end; i++) if (bytes[i] !== PLAIN_OPENING[i]) return 'mse';
  return end === PLAIN_OPENING.length ? 'plain' : 'undecided';
}
