import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildTorrent, tempDir } from '@tork/testkit';
import { encodeBencode } from '../bencode/bencode.js';
import { TorkError, TorkErrorCode } from '../errors.js';
import type { HostCommand } from '../messages/host-command.js';
import type { HostEvent } from '../messages/host-event.js';
import { encodeTorrentV2 } from '../metainfo/create-torrent-v2.js';
import { parseMagnet } from '../metainfo/magnet.js';
import { fileMerkle } from '../metainfo/merkle-tree.js';
import { parseMetainfo } from '../metainfo/metainfo.js';
import type { ActorSystem } from './actor-system.js';
import { Engine } from './engine.js';

/**
 * Peers that each answer with `info(address)` when asked for the metadata: an ActorSystem scripted
 * just enough for the metadata phase (connect → connected + metadata-available; fetch-metadata →
 * metadata). Commands are recorded.
 */
class MetadataPeers implements ActorSystem {
  readonly commands: HostCommand[] = [];
  #handler: ((events: readonly HostEvent[]) => void) | undefined;
  readonly #addresses = new Map<number, string>();

  constructor(
    readonly info: (address: string) => Uint8Array | null,
    /** Addresses a peer tells of by PEX right after its handshake. */
    readonly pex: (address: string) => readonly string[] = () => [],
  ) {}

  send(commands: readonly HostCommand[]): void {
    this.commands.push(...commands);
    for (const command of commands) {
      if (command.type === 'connect') {
        const address = `${command.host}:${command.port}`;
        this.#addresses.set(command.actorId, address);
        const size = this.info(address)?.length;
        const peerId = createHash('sha1').update(address).digest('hex');
        this.#emit([
          {
            type: 'connected',
            actorId: command.actorId,
            peerId,
            client: 'x',
            fastExtension: true,
            extensionProtocol: true,
          },
          ...(size ? [{ type: 'metadata-available' as const, actorId: command.actorId, size }] : []),
          ...this.pex(address).map((told) => ({
            type: 'pex-peers' as const,
            actorId: command.actorId,
            added: [{ host: told.split(':')[0]!, port: Number(told.split(':')[1]), flags: 0 }],
            dropped: [],
          })),
        ]);
      } else if (command.type === 'fetch-metadata') {
        const bytes = this.info(this.#addresses.get(command.actorId)!)!;
        this.#emit([{ type: 'metadata', actorId: command.actorId, info: Uint8Array.from(bytes).buffer }]);
      }
    }
  }

  onEvents(handler: (events: readonly HostEvent[]) => void): void {
    this.#handler = handler;
  }

  async close(): Promise<void> {}

  #emit(events: HostEvent[]): void {
    setImmediate(() => this.#handler?.(events));
  }
}

const built = buildTorrent({ pieceLength: 16_384, length: 50_000, name: 'm.bin' });
const meta = parseMetainfo(built.bytes);
const liar = encodeBencode({
  length: 50_000,
  name: 'evil.bin',
  'piece length': 16_384,
  pieces: new Uint8Array(80),
});

describe('a magnet link through the Engine (metadata phase, BEP 9)', { timeout: 20_000 }, () => {
  it('bans a peer whose metadata does not hash to the info-hash, takes the good copy, saves the .torrent, then downloads', async () => {
    const out = await tempDir('tork-magnet-');
    // The coordinator checks the hash again: the host's check is not trusted blindly.
    const peers = new MetadataPeers((address) => (address.endsWith(':1') ? liar : meta.infoBytes));
    const engine = new Engine({ actors: peers, peerId: new Uint8Array(20).fill(9), port: 0 });
    const magnet = parseMagnet(`magnet:?xt=urn:btih:${meta.infoHashHex}&x.pe=127.0.0.9:1&x.pe=127.0.0.9:2`);
    const rejected: string[] = [];
    const torrent = await engine.addMagnet(
      { magnet, outDir: out, useTrackers: false, tickMs: 50 },
      undefined,
      (fetch) => fetch.on('metadata-received', ({ address }) => rejected.push(`received from ${address}`)),
    );
    assert.equal(torrent.meta.infoHashHex, meta.infoHashHex);
    assert.deepEqual(rejected, ['received from 127.0.0.9:2']);
    assert.ok(
      peers.commands.some(
        (command) => command.type === 'close' && /metadata that does not hash/.test(command.reason),
      ),
      'the liar was banned',
    );
    const saved = parseMetainfo(await readFile(join(out, '.tork', `${meta.infoHashHex}.torrent`)));
    assert.equal(saved.infoHashHex, meta.infoHashHex);
    assert.ok(
      peers.commands.some((command) => command.type === 'remove-torrent'),
      'the magnet actors closed',
    );
    assert.ok(
      peers.commands.some((command) => command.type === 'add-torrent'),
      'the download started',
    );
    await engine.close();

    // A second run reads the saved metadata: no fetch at all.
    const again = new MetadataPeers(() => meta.infoBytes);
    const second = new Engine({ actors: again, peerId: new Uint8Array(20).fill(9), port: 0 });
    const resumed = await second.addMagnet({ magnet, outDir: out, useTrackers: false, tickMs: 50 });
    assert.equal(resumed.meta.infoHashHex, meta.infoHashHex);
    assert.equal(again.commands.filter((command) => command.type === 'add-magnet').length, 0);
    await second.close();
  });

  it('a v2-only magnet (urn:btmh): the v2 bit, SHA-256 checked on the coordinator too, a liar banned', async () => {
    // Files of one piece need no piece layers: the download starts right after the metadata.
    // Exactly one piece: a single-file v2 torrent ending off a piece boundary gets a pad file, which
    // the file layout refuses as "a single-file torrent has 2 files" (not this test's subject).
    const small = new Uint8Array(32_768).fill(5);
    const merkle = fileMerkle(small, 32_768);
    const v2 = parseMetainfo(
      encodeTorrentV2({
        version: 'v2',
        name: 'v2.bin',
        length: small.length,
        pieceLength: 32_768,
        fileHashes: [{ piecesRoot: merkle.root! }],
      }),
    );
    // A dictionary that is a valid torrent but not this one: its SHA-256 differs.
    const other = encodeTorrentV2({
      version: 'v2',
      name: 'other.bin',
      length: small.length,
      pieceLength: 32_768,
      fileHashes: [{ piecesRoot: merkle.root! }],
    });
    const otherInfo = parseMetainfo(other).infoBytes;
    const out = await tempDir('tork-magnet-v2-');
    const peers = new MetadataPeers((address) => (address.endsWith(':1') ? otherInfo : v2.infoBytes));
    const engine = new Engine({ actors: peers, peerId: new Uint8Array(20).fill(9), port: 0 });
    const magnet = parseMagnet(
      `magnet:?xt=urn:btmh:1220${v2.infoHashV2Hex}&x.pe=127.0.0.9:1&x.pe=127.0.0.9:2`,
    );
    assert.equal(magnet.v2Only, true);
    const torrent = await engine.addMagnet({ magnet, outDir: out, useTrackers: false, tickMs: 50 });
    assert.equal(torrent.meta.infoHashHex, v2.infoHashHex);
    const add = peers.commands.find((command) => command.type === 'add-magnet');
    assert.ok(add?.type === 'add-magnet' && add.v2 === true, 'the handshake sets the v2 bit');
    assert.equal(add.metadataHashes?.v1, undefined, 'no SHA-1 check for a btmh-only link');
    assert.ok(Buffer.from(add.metadataHashes!.v2!).equals(Buffer.from(v2.infoHashV2!)));
    assert.ok(
      peers.commands.some(
        (command) => command.type === 'close' && /metadata that does not hash/.test(command.reason),
      ),
      'the peer with the other dictionary was banned by the coordinator',
    );
    assert.equal(peers.commands.filter((command) => command.type === 'fetch-hashes').length, 0);
    await engine.close();
  });

  it('gives up with TORK_ERR_METADATA when no peer offers the metadata in time', async () => {
    const out = await tempDir('tork-magnet-');
    const engine = new Engine({
      actors: new MetadataPeers(() => null),
      peerId: new Uint8Array(20).fill(9),
      port: 0,
    });
    const magnet = parseMagnet(`magnet:?xt=urn:btih:${meta.infoHashHex}&x.pe=127.0.0.9:3`);
    await assert.rejects(
      engine.addMagnet({ magnet, outDir: out, useTrackers: false, tickMs: 20, metadataTimeoutMs: 200 }),
      (error: unknown) =>
        error instanceof TorkError &&
        error.code === TorkErrorCode.METADATA &&
        /1 peers connected, 0 offering/.test(error.message),
    );
    await engine.close();
  });

  it('Engine.remove gives up a fetch in progress: addMagnet rejects with TORK_ERR_ABORTED and the id is free again', async () => {
    const engine = new Engine({
      actors: new MetadataPeers(() => null),
      peerId: new Uint8Array(20).fill(9),
      port: 0,
    });
    const magnet = parseMagnet(`magnet:?xt=urn:btih:${meta.infoHashHex}&x.pe=127.0.0.9:5`);
    const adding = engine.addMagnet({
      magnet,
      outDir: await tempDir('tork-magnet-'),
      useTrackers: false,
      tickMs: 20,
    });
    const outcome = adding.then(
      () => 'resolved',
      (error: unknown) => (error instanceof TorkError ? error.code : 'other'),
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(await engine.remove(meta.infoHashHex), true, 'the fetch counts as the torrent');
    assert.equal(await outcome, TorkErrorCode.ABORTED);
    assert.equal(await engine.remove(meta.infoHashHex), false, 'forgotten');
    await engine.close();
  });

  it('Engine.remove gives up a magnet still starting (before its fetch exists): addMagnet rejects, the id is free', async () => {
    const engine = new Engine({
      actors: new MetadataPeers(() => null),
      peerId: new Uint8Array(20).fill(9),
      port: 0,
    });
    const magnet = parseMagnet(`magnet:?xt=urn:btih:${meta.infoHashHex}&x.pe=127.0.0.9:5`);
    const outDir = await tempDir('tork-magnet-');
    const add = () =>
      engine.addMagnet({ magnet, outDir, useTrackers: false, tickMs: 20 }).then(
        () => 'resolved',
        (error: unknown) => (error instanceof TorkError ? `${error.code}: ${error.message}` : 'other'),
      );
    // The same turn: addMagnet is still reading saved metadata, no fetch is registered yet (the
    // daemon's pause right after an add).
    const first = add();
    assert.equal(await engine.remove(meta.infoHashHex), true, 'the starting magnet counts as the torrent');
    assert.match(await first, /^TORK_ERR_ABORTED/);
    assert.equal(await engine.remove(meta.infoHashHex), false, 'forgotten');
    // Added again, it is taken (not refused as already added), and a remove gives it up.
    const second = add();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(await engine.remove(meta.infoHashHex), true);
    assert.match(await second, /^TORK_ERR_ABORTED/);
    await engine.close();
  });

  it('dials the peers a connected peer tells of by PEX, and gets the metadata from them; --no-pex does not', async () => {
    const magnet = parseMagnet(`magnet:?xt=urn:btih:${meta.infoHashHex}&x.pe=127.0.0.9:4`);
    // 127.0.0.9:4 has no metadata, but knows 127.0.0.9:5, which has.
    const script = () =>
      new MetadataPeers(
        (address) => (address.endsWith(':5') ? meta.infoBytes : null),
        (address) => (address.endsWith(':4') ? ['127.0.0.9:5'] : []),
      );
    const peers = script();
    const engine = new Engine({ actors: peers, peerId: new Uint8Array(20).fill(9), port: 0 });
    const found: { peers: number; added: number }[] = [];
    const torrent = await engine.addMagnet(
      { magnet, outDir: await tempDir('tork-magnet-'), useTrackers: false, tickMs: 20 },
      undefined,
      (fetch) => fetch.on('pex-peers', (data) => found.push(data)),
    );
    assert.equal(torrent.meta.infoHashHex, meta.infoHashHex);
    assert.deepEqual(found, [{ peers: 1, added: 1 }]);
    const addMagnet = peers.commands.find((command) => command.type === 'add-magnet');
    assert.equal(addMagnet?.type === 'add-magnet' && addMagnet.pex, true, 'the hosts take PEX messages');
    await engine.close();

    const off = script();
    const quiet = new Engine({ actors: off, peerId: new Uint8Array(20).fill(9), port: 0 });
    await assert.rejects(
      quiet.addMagnet({
        magnet,
        outDir: await tempDir('tork-magnet-'),
        useTrackers: false,
        pex: false,
        tickMs: 20,
        metadataTimeoutMs: 300,
      }),
      (error: unknown) => error instanceof TorkError && error.code === TorkErrorCode.METADATA,
    );
    assert.ok(
      !off.commands.some((command) => command.type === 'connect' && command.port === 5),
      'with PEX off the told address is not dialled',
    );
    await quiet.close();
  });
});
