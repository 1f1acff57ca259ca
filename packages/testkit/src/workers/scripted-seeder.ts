/**
 * Test fixture (not shipped behaviour): a seeder on 127.0.0.1 speaking the peer wire protocol
 * with the codec, serving a small torrent made up in the test, with scripted faults.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import {
  encodeBencode,
  encodeBitfield,
  encodeChoke,
  encodeExtended,
  encodeHandshake,
  encodeHaveAll,
  encodePieceHeader,
  encodeRejectRequest,
  encodeUnchoke,
  WireDecoder,
  type WireMessage,
} from '@tork/core';

export interface TestTorrent {
  readonly infoHash: Uint8Array<ArrayBuffer>;
  readonly torrentId: string;
  readonly pieceLength: number;
  readonly length: number;
  readonly pieceCount: number;
  readonly pieceHashes: Uint8Array<ArrayBuffer>;
  readonly data: Buffer;
}

/** Random content cut into pieces, with correct SHA-1 piece hashes (the last piece short). */
export function makeTorrent(pieceLength: number, length: number): TestTorrent {
  const data = randomBytes(length);
  const pieceCount = Math.ceil(length / pieceLength);
  const pieceHashes = new Uint8Array(pieceCount * 20);
  for (let index = 0; index < pieceCount; index++) {
    const piece = data.subarray(index * pieceLength, Math.min(length, (index + 1) * pieceLength));
    pieceHashes.set(createHash('sha1').update(piece).digest(), index * 20);
  }
  const infoHash = new Uint8Array(createHash('sha1').update(pieceHashes).digest());
  return {
    infoHash,
    torrentId: Buffer.from(infoHash).toString('hex'),
    pieceLength,
    length,
    pieceCount,
    pieceHashes,
    data,
  };
}

export interface SeederScript {
  /** Advertise the fast extension (BEP 6). Default: true. */
  readonly fast?: boolean;
  /** Advertise the extension protocol (BEP 10) and send this `reqq`. Default: 250. */
  readonly reqq?: number;
  /** Answer with this info-hash instead of the torrent's. */
  readonly infoHash?: Uint8Array;
  /** Send these bytes instead of a handshake. */
  readonly handshakeReply?: Uint8Array;
  /** Instead of a bitfield, send these bytes right after the handshake. */
  readonly afterHandshake?: Uint8Array;
  /** Send a bitfield with the spare bits set. */
  readonly spareBits?: boolean;
  /** Never answer requests (a snubbing peer). */
  readonly ignoreRequests?: boolean;
  /** Answer this many requests, then none (a peer that delivered and then went quiet). */
  readonly answerRequests?: number;
  /** Flip a byte of the first block of this piece. */
  readonly corruptPiece?: number;
  /** After serving this many blocks, choke and serve nothing more (rejecting with fast). */
  readonly chokeAfterBlocks?: number;
  /** Send this many unrequested blocks after the first request. */
  readonly unrequestedBlocks?: number;
  /** Go silent after the handshake (no bitfield, no unchoke, no keep-alive). */
  readonly silent?: boolean;
}

/** What the seeder saw, for assertions. */
export interface SeederLog {
  connections: number;
  requests: number;
  cancels: number;
  blocksServed: number;
  /** Most requests outstanding at once on one connection, as seen from the seeder. */
  maxOutstanding: number;
  interested: number;
  /** The `v` and `reqq` of the last BEP 10 handshake received. */
  extendedHandshakes: number;
  /** Bitfield / have-all / have-none received from the downloader. */
  bitfields: string[];
  haves: number[];
  keepAlives: number;
}

export class ScriptedSeeder {
  readonly log: SeederLog = {
    connections: 0,
    requests: 0,
    cancels: 0,
    blocksServed: 0,
    maxOutstanding: 0,
    interested: 0,
    extendedHandshakes: 0,
    bitfields: [],
    haves: [],
    keepAlives: 0,
  };
  readonly #torrent: TestTorrent;
  readonly #script: SeederScript;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  constructor(torrent: TestTorrent, script: SeederScript = {}) {
    this.#torrent = torrent;
    this.#script = script;
    this.#server = createServer((socket) => this.#serve(socket));
  }

  async listen(): Promise<number> {
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
    const address = this.#server.address();
    if (address === null || typeof address !== 'object') throw new Error('no address');
    return address.port;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #serve(socket: Socket): void {
    this.#sockets.add(socket);
    this.log.connections++;
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => {});
    const torrent = this.#torrent;
    const script = this.#script;
    const fast = script.fast ?? true;
    const decoder = new WireDecoder({ expectHandshake: true, pieceCount: torrent.pieceCount });
    let outstanding = 0;
    let choked = false;
    let unrequestedSent = false;
    socket.on('data', (chunk: Buffer) => {
      let messages: WireMessage[];
      try {
        messages = decoder.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      socket.cork();
      for (const message of messages) handle(message);
      socket.uncork();
    });
    const pending: { index: number; begin: number; length: number }[] = [];
    const serve = (): void => {
      if (socket.destroyed) return;
      socket.cork();
      for (const request of pending.splice(0)) {
        outstanding--;
        if (choked) {
          if (fast) socket.write(encodeRejectRequest(request.index, request.begin, request.length));
          continue;
        }
        const start = request.index * torrent.pieceLength + request.begin;
        const block = Buffer.from(torrent.data.subarray(start, start + request.length));
        if (script.corruptPiece === request.index && request.begin === 0) block[0]! ^= 0xff;
        socket.write(encodePieceHeader(request.index, request.begin, block.length));
        socket.write(block);
        this.log.blocksServed++;
        if (script.chokeAfterBlocks !== undefined && this.log.blocksServed >= script.chokeAfterBlocks) {
          choked = true;
          socket.write(encodeChoke());
        }
      }
      socket.uncork();
    };
    const handle = (message: WireMessage): void => {
      switch (message.type) {
        case 'handshake': {
          if (script.handshakeReply) {
            socket.write(script.handshakeReply);
            return;
          }
          socket.write(
            encodeHandshake({
              infoHash: script.infoHash ?? torrent.infoHash,
              peerId: Buffer.from('-XS0001-seeder000000'),
              extensionProtocol: true,
              fastExtension: fast,
            }),
          );
          if (script.afterHandshake) {
            socket.write(script.afterHandshake);
            return;
          }
          if (script.silent) return;
          const bits = new Uint8Array(Math.ceil(torrent.pieceCount / 8));
          for (let i = 0; i < torrent.pieceCount; i++) bits[i >> 3]! |= 0x80 >> (i & 7);
          if (script.spareBits) bits[bits.length - 1] = 0xff;
          socket.write(fast && !script.spareBits ? encodeHaveAll() : encodeBitfield(bits));
          socket.write(encodeExtended(0, encodeBencode({ m: {}, reqq: script.reqq ?? 250, v: 'seeder' })));
          socket.write(encodeUnchoke());
          return;
        }
        case 'bitfield':
          this.log.bitfields.push(Buffer.from(message.bitfield).toString('hex'));
          return;
        case 'have-all':
        case 'have-none':
          this.log.bitfields.push(message.type);
          return;
        case 'have':
          this.log.haves.push(message.index);
          return;
        case 'keep-alive':
          this.log.keepAlives++;
          return;
        case 'interested':
          this.log.interested++;
          return;
        case 'extended':
          if (message.extId === 0) this.log.extendedHandshakes++;
          return;
        case 'cancel':
          this.log.cancels++;
          return;
        case 'request': {
          this.log.requests++;
          outstanding++;
          this.log.maxOutstanding = Math.max(this.log.maxOutstanding, outstanding);
          if (script.unrequestedBlocks && !unrequestedSent) {
            unrequestedSent = true;
            for (let i = 0; i < script.unrequestedBlocks; i++) {
              socket.write(encodePieceHeader(0, 0, 1));
              socket.write(Uint8Array.of(0));
            }
          }
          if (script.ignoreRequests) return;
          if (script.answerRequests !== undefined && this.log.requests > script.answerRequests) return;
          // Served on the next turn, so what piles up meanwhile shows how deep the pipeline is.
          pending.push(message);
          if (pending.length === 1) setImmediate(serve);
          return;
        }
        default:
          return;
      }
    };
  }
}
