import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { TorkError, TorkErrorCode } from '../errors.js';
import type { HostCommand } from '../messages/host-command.js';
import type { HostEvent } from '../messages/host-event.js';
import { encodeTorrentV2 } from '../metainfo/create-torrent-v2.js';
import { blockHashes, fileMerkle } from '../metainfo/merkle-tree.js';
import { parseMetainfo } from '../metainfo/metainfo.js';
import { v2PieceChecks } from '../metainfo/v2-piece-checks.js';
import { ServedMerkleTree } from '../wire/hash-serving.js';
import type { ActorSystem } from './actor-system.js';
import { torrentFile } from './metadata-fetch.js';
import {
  HASH_REQUESTS_PER_PEER,
  missingPieceLayers,
  PieceLayerFetch,
  withPieceLayers,
} from './piece-layer-fetch.js';
import type { TorrentContext } from './torrent-options.js';

const PIECE = 16_384;
/** Six files of two or three pieces (one slice each), one of less than a piece (no layer). */
const LENGTHS = [
  2 * PIECE + 1,
  3 * PIECE,
  2 * PIECE + 7,
  2 * PIECE + 100,
  3 * PIECE - 5,
  2 * PIECE + 2,
  4_000,
];
const datas = LENGTHS.map((length) => randomBytes(length));
const trees = datas.map((data) => {
  const merkle = fileMerkle(data, PIECE);
  return {
    merkle,
    tree: new ServedMerkleTree({
      piecesRoot: merkle.root!,
      fileLength: data.length,
      layer: 0,
      hashes: blockHashes(data),
    }),
  };
});
const full = parseMetainfo(
  encodeTorrentV2({
    version: 'v2',
    name: 'set',
    pieceLength: PIECE,
    files: LENGTHS.map((length, index) => ({ path: [`f${index}.bin`], length })),
    fileHashes: trees.map(({ merkle }) => ({
      piecesRoot: merkle.root!,
      ...(merkle.pieceLayer ? { pieceLayer: merkle.pieceLayer } : {}),
    })),
  }),
);
/** What BEP 9 gives: the info dictionary alone, no piece layers. */
const bare = parseMetainfo(torrentFile(full.infoBytes, []));

type Behaviour = 'honest' | 'rejects' | 'lies' | 'refuses';

/** Peers scripted by address: honest ones answer from the real trees, one rejects, one lies. */
class HashPeers implements ActorSystem {
  readonly commands: HostCommand[] = [];
  readonly outstanding = new Map<number, number>();
  maxOutstanding = 0;
  readonly asked = new Map<string, number>();
  #handler: ((events: readonly HostEvent[]) => void) | undefined;
  readonly #who = new Map<number, string>();

  constructor(readonly behaviour: (address: string) => Behaviour) {}

  send(commands: readonly HostCommand[]): void {
    this.commands.push(...commands);
    for (const command of commands) {
      if (command.type === 'connect') {
        const address = `${command.host}:${command.port}`;
        this.#who.set(command.actorId, address);
        if (this.behaviour(address) === 'refuses') {
          const error = new TorkError(TorkErrorCode.IO, 'connection refused', { cause: 'ECONNREFUSED' });
          this.#emit({ type: 'closed', actorId: command.actorId, error: error.toPlain() });
          continue;
        }
        this.#emit({
          type: 'connected',
          actorId: command.actorId,
          peerId: Buffer.from(address.padEnd(20, '-')).toString('hex'),
          client: 'x',
          fastExtension: true,
          extensionProtocol: true,
        });
      } else if (command.type === 'fetch-hashes') {
        const { actorId, piecesRoot, index, length } = command;
        const address = this.#who.get(actorId)!;
        this.asked.set(address, (this.asked.get(address) ?? 0) + 1);
        const load = (this.outstanding.get(actorId) ?? 0) + 1;
        this.outstanding.set(actorId, load);
        this.maxOutstanding = Math.max(this.maxOutstanding, load);
        const done = () => this.outstanding.set(actorId, (this.outstanding.get(actorId) ?? 1) - 1);
        const behaviour = this.behaviour(address);
        if (behaviour === 'rejects') {
          done();
          this.#emit({ type: 'hashes-rejected', actorId, piecesRoot, index, length });
        } else if (behaviour === 'lies') {
          done();
          const error = new TorkError(
            TorkErrorCode.WIRE_PROTOCOL,
            'peer sent bad hashes: hashes do not chain to the pieces root',
            {
              cause: 'bad-hashes',
            },
          );
          this.#emit({ type: 'closed', actorId, error: error.toPlain() });
        } else {
          const tree = trees.find(({ merkle }) =>
            Buffer.from(merkle.root!).equals(Buffer.from(piecesRoot)),
          )!.tree;
          const { type: _t, actorId: _a, fileLength: _f, ...range } = command;
          const answer = tree.answer(range);
          assert.equal(answer.type, 'hashes');
          if (answer.type !== 'hashes') return;
          // Answered a turn later, so requests pile up as they would on a wire.
          setTimeout(() => {
            done();
            this.#emit({
              type: 'piece-hashes',
              actorId,
              piecesRoot,
              index,
              length,
              hashes: new Uint8Array(answer.hashes).buffer,
            });
          }, 5);
        }
      }
    }
  }

  onEvents(handler: (events: readonly HostEvent[]) => void): void {
    this.#handler = handler;
  }

  async close(): Promise<void> {}

  #emit(event: HostEvent): void {
    setImmediate(() => this.#handler?.([event]));
  }
}

function context(actors: HashPeers, owner: () => PieceLayerFetch): TorrentContext {
  let next = 1;
  const byActor = new Set<number>();
  actors.onEvents((events) => {
    for (const event of events)
      if (
        event.type !== 'stats' &&
        event.type !== 'pieces' &&
        event.type !== 'incoming' &&
        byActor.has(event.actorId)
      )
        owner().handleEvent(event);
  });
  return {
    actors,
    peerId: new Uint8Array(20).fill(3),
    port: 0,
    nextActorId: () => next++,
    register: (id) => byActor.add(id),
    unregister: (id) => byActor.delete(id),
    encryption: 'disable',
  };
}

describe('PieceLayerFetch (coordinator)', { timeout: 20_000 }, () => {
  it('fetches every missing layer, at most HASH_REQUESTS_PER_PEER at once per peer, past a rejecter and a liar (banned)', async () => {
    assert.equal(bare.v2?.hasPieceLayers, false);
    assert.equal(v2PieceChecks(bare), undefined);
    assert.equal(missingPieceLayers(bare).length, 6);
    const peers = new HashPeers((address) =>
      address.endsWith(':1') ? 'lies' : address.endsWith(':2') ? 'rejects' : 'honest',
    );
    const addresses = [1, 2, 3].map((port) => ({ host: '127.0.0.9', port }));
    const fetch: PieceLayerFetch = new PieceLayerFetch(
      { meta: bare, peers: addresses, timeoutMs: 10_000, tickMs: 50 },
      context(peers, () => fetch),
    );
    const rejected: string[] = [];
    fetch.on('piece-layers-rejected', ({ address }) => rejected.push(address));
    let received: { files: number; hashes: number; requests: number; rejected: number } | undefined;
    fetch.on('piece-layers-received', (data) => (received = data));
    const result = await fetch.start();
    assert.deepEqual(rejected, ['127.0.0.9:1']);
    assert.deepEqual(result.banned, ['127.0.0.9:1']);
    assert.ok(
      peers.commands.some(
        (command) => command.type === 'close' && /banned: peer sent bad hashes/.test(command.reason),
      ),
    );
    assert.ok((peers.asked.get('127.0.0.9:2') ?? 0) >= 1, 'the rejecter was asked');
    assert.ok(peers.maxOutstanding <= HASH_REQUESTS_PER_PEER, `${peers.maxOutstanding} outstanding at once`);
    assert.equal(peers.maxOutstanding, HASH_REQUESTS_PER_PEER, 'the honest peer was kept busy');
    assert.equal(received?.files, 6);
    assert.ok((received?.rejected ?? 0) >= 1);
    // The layers are the real ones: the table a torrent with layers gives, and the saved .torrent parses.
    assert.ok(Buffer.from(v2PieceChecks(result.meta)!).equals(Buffer.from(v2PieceChecks(full)!)));
    const saved = parseMetainfo(withPieceLayers(torrentFile(full.infoBytes, []), result.layers));
    assert.equal(saved.infoHashV2Hex, full.infoHashV2Hex);
    assert.equal(saved.v2?.hasPieceLayers, true);
    assert.equal(missingPieceLayers(saved).length, 0);
    assert.ok(peers.commands.some((command) => command.type === 'remove-torrent'));
    const add = peers.commands.find((command) => command.type === 'add-magnet');
    assert.ok(add?.type === 'add-magnet' && add.v2 === true);
    assert.ok(Buffer.from(add.infoHash).equals(Buffer.from(full.infoHashV2!.subarray(0, 20))));
  });

  it('with noPeerTimeoutMs (hybrids), gives up early when no v2 peer connects', async () => {
    const peers = new HashPeers(() => 'refuses');
    const fetch: PieceLayerFetch = new PieceLayerFetch(
      {
        meta: bare,
        peers: [{ host: '127.0.0.9', port: 6 }],
        timeoutMs: 10_000,
        noPeerTimeoutMs: 200,
        tickMs: 50,
      },
      context(peers, () => fetch),
    );
    const started = Date.now();
    await assert.rejects(
      fetch.start(),
      (error: TorkError) =>
        error.code === TorkErrorCode.METADATA && /no peer speaking BitTorrent v2/.test(error.message),
    );
    assert.ok(Date.now() - started < 5_000, 'well before timeoutMs');
  });

  it('fails with TORK_ERR_METADATA when no peer gives the layers in time', async () => {
    const peers = new HashPeers(() => 'rejects');
    const fetch: PieceLayerFetch = new PieceLayerFetch(
      { meta: bare, peers: [{ host: '127.0.0.9', port: 5 }], timeoutMs: 300, tickMs: 50 },
      context(peers, () => fetch),
    );
    await assert.rejects(fetch.start(), (error: TorkError) => error.code === TorkErrorCode.METADATA);
  });
});
