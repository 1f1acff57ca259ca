/**
 * Peer exchange on the coordinator: the `torrent-peers` list it sends the hosts (listen addresses
 * and flags, only when it changes), what it does with a peer's `pex-peers` (dials the usable
 * addresses as source `pex`, emits `pex-peers` with counts), and that none of it happens for a
 * private torrent or with `pex: false`. The Engine runs over a scripted ActorSystem.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MessageChannel } from 'node:worker_threads';
import { buildTorrent, ScriptedActorSystem as ScriptedActors, tempDir } from '@tork/testkit';
import { parseMetainfo } from '../metainfo/metainfo.js';
import { PexFlag } from '../wire/ut-pex.js';
import { Engine } from './engine.js';
import { addressScope, PeerExchange } from './peer-exchange.js';
import { PeerRecord } from './peer-record.js';
import type { TorrentEventMap } from './torrent-events.js';

/** The shared scripted system, and which actor was dialled where. */
class ScriptedActorSystem extends ScriptedActors {
  /** The actor dialled to host:port. */
  dialled(host: string, port: number): number | undefined {
    return this.of('connect').find((command) => command.host === host && command.port === port)?.actorId;
  }
}

const OUR_PORT = 7000;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** The coordinator's commands leave at the end of the turn. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

async function until(what: string, done: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms`);
    await pause(5);
  }
}

async function start(options: { private?: boolean; pex?: boolean; peers: { host: string; port: number }[] }) {
  const built = buildTorrent({
    length: 100_000,
    pieceLength: 16_384,
    name: 'pex.bin',
    ...(options.private === undefined ? {} : { private: options.private }),
  });
  const actors = new ScriptedActorSystem();
  const engine = new Engine({ actors, port: OUR_PORT });
  const events = {
    'pex-peers': [] as TorrentEventMap['pex-peers'][0][],
    'peer-connected': [] as TorrentEventMap['peer-connected'][0][],
  };
  const torrent = await engine.add(
    {
      meta: parseMetainfo(built.bytes),
      outDir: await tempDir('tork-pex-'),
      peers: options.peers,
      useTrackers: false,
      resumeDir: false,
      tickMs: 10,
      ...(options.pex === undefined ? {} : { pex: options.pex }),
    },
    (created) => {
      created.on('pex-peers', (data) => events['pex-peers'].push(data));
      created.on('peer-connected', (data) => events['peer-connected'].push(data));
    },
  );
  await pause(0);
  const connect = (actorId: number, byte: number) =>
    actors.emit({
      type: 'connected',
      actorId,
      peerId: byte.toString(16).padStart(2, '0').repeat(20),
      client: 'scripted',
      fastExtension: true,
      extensionProtocol: true,
    });
  return { engine, torrent, actors, events, connect, pieceCount: torrent.meta.pieceCount };
}

describe('peer exchange on the coordinator', () => {
  it('lists its connected peers at their listen addresses, with flags, each time the list changes', async () => {
    const { engine, actors, connect, pieceCount } = await start({
      peers: [{ host: '127.0.0.1', port: 6001 }],
    });
    try {
      assert.equal(actors.of('add-torrent')[0]!.pex, true, 'the hosts run ut_pex for it');
      const first = actors.dialled('127.0.0.1', 6001)!;
      connect(first, 0xa1);
      await until('a torrent-peers command', () => actors.of('torrent-peers').length === 1);
      assert.deepEqual(actors.of('torrent-peers')[0]!.peers, [
        { actorId: first, host: '127.0.0.1', port: 6001, flags: PexFlag.reachable },
      ]);

      // It turns out to be a seed; a peer dials us and tells its listen port; one dials us silently.
      actors.emit({
        type: 'bitfield',
        actorId: first,
        bitfield: Uint8Array.of((0xff << (8 - pieceCount)) & 0xff),
      });
      for (const address of ['127.0.0.9:40001', '127.0.0.8:40002']) {
        const { port1 } = new MessageChannel();
        assert.equal(
          engine.acceptIncoming({
            infoHashHex: engine.torrents[0]!.meta.infoHashHex,
            address,
            relay: port1,
            initial: new Uint8Array(68),
          }),
          true,
        );
        port1.close();
      }
      await settle();
      const [told, silent] = actors.of('accept').map((command) => command.actorId);
      connect(told!, 0xb2);
      connect(silent!, 0xb3);
      actors.emit({ type: 'peer-info', actorId: told!, listenPort: 9000, client: null });
      // The seed flag and the new peer land in one list, or (a 10 ms tick between them on a busy
      // machine) in two: the last one sent holds both.
      const expected = [
        { actorId: first, host: '127.0.0.1', port: 6001, flags: PexFlag.reachable | PexFlag.seed },
        { actorId: told, host: '127.0.0.9', port: 9000, flags: 0 },
      ];
      const latest = () => actors.of('torrent-peers').at(-1)!.peers;
      await until('the new list', () => JSON.stringify(latest()) === JSON.stringify(expected));
      assert.deepEqual(latest(), expected);
      const sent = actors.of('torrent-peers').length;
      assert.ok(sent === 2 || sent === 3, `one list per change, ${sent - 1} after the first`);
      await pause(50);
      assert.equal(actors.of('torrent-peers').length, sent, 'nothing changed: nothing sent');

      actors.emit({
        type: 'closed',
        actorId: first,
        error: { code: 'TORK_ERR_IO', message: 'gone', details: {} },
      });
      await until('the list without it', () => actors.of('torrent-peers').length === sent + 1);
      assert.deepEqual(
        latest().map((peer) => peer.actorId),
        [told],
      );
    } finally {
      await engine.close();
    }
  });

  it('dials the usable addresses a peer sent as source pex and reports pex-peers with counts', async () => {
    const { engine, actors, events, connect } = await start({
      peers: [
        { host: '127.0.0.1', port: 6001 },
        { host: '203.0.113.1', port: 6002 },
      ],
    });
    try {
      const local = actors.dialled('127.0.0.1', 6001)!;
      const remote = actors.dialled('203.0.113.1', 6002)!;
      connect(local, 0xa1);
      connect(remote, 0xa2);
      actors.emit({
        type: 'pex-peers',
        actorId: local,
        added: [
          { host: '127.0.0.2', port: 6003, flags: PexFlag.seed | PexFlag.reachable },
          { host: '198.51.100.4', port: 6004, flags: 0 },
          { host: '127.0.0.1', port: OUR_PORT, flags: 0 },
          { host: '0.0.0.0', port: 6005, flags: 0 },
          { host: '224.0.0.1', port: 6006, flags: 0 },
        ],
        dropped: [{ host: '127.0.0.1', port: 6001 }],
      });
      assert.deepEqual(
        events['pex-peers'],
        [{ peers: 2, added: 2 }],
        'ourselves and the undialable left out',
      );
      await settle();
      const pexed = actors.dialled('127.0.0.2', 6003);
      assert.ok(pexed !== undefined && actors.dialled('198.51.100.4', 6004) !== undefined, 'both dialled');
      connect(pexed, 0xc3);
      assert.deepEqual(
        events['peer-connected'].map((event) => [event.address, event.source]),
        [
          ['127.0.0.1:6001', 'manual'],
          ['203.0.113.1:6002', 'manual'],
          ['127.0.0.2:6003', 'pex'],
        ],
      );

      // A peer on the internet cannot make us dial into our own network.
      actors.emit({
        type: 'pex-peers',
        actorId: remote,
        added: [
          { host: '127.0.0.5', port: 6007, flags: 0 },
          { host: '192.168.1.5', port: 6008, flags: 0 },
          { host: 'fe80::1', port: 6009, flags: 0 },
          { host: '198.51.100.4', port: 6004, flags: 0 },
          { host: '2001:db8::5', port: 6010, flags: 0 },
        ],
        dropped: [],
      });
      assert.deepEqual(events['pex-peers'][1], { peers: 2, added: 1 }, 'one known, one new');
      await settle();
      assert.equal(actors.dialled('127.0.0.5', 6007), undefined);
      assert.equal(actors.dialled('192.168.1.5', 6008), undefined);
      assert.ok(actors.dialled('2001:db8::5', 6010) !== undefined);
    } finally {
      await engine.close();
    }
  });

  for (const [name, options] of [
    ['a private torrent', { private: true }],
    ['a torrent with pex: false', { pex: false }],
  ] as const) {
    it(`does none of it for ${name}`, async () => {
      const { engine, actors, events, connect } = await start({
        ...options,
        peers: [{ host: '127.0.0.1', port: 6001 }],
      });
      try {
        assert.equal(actors.of('add-torrent')[0]!.pex, false, 'the hosts do not offer ut_pex');
        const first = actors.dialled('127.0.0.1', 6001)!;
        connect(first, 0xa1);
        actors.emit({
          type: 'pex-peers',
          actorId: first,
          added: [{ host: '127.0.0.2', port: 6003, flags: 0 }],
          dropped: [],
        });
        await pause(60);
        assert.equal(actors.of('torrent-peers').length, 0, 'no peer list for the hosts');
        assert.equal(actors.dialled('127.0.0.2', 6003), undefined, 'nothing dialled from it');
        assert.deepEqual(events['pex-peers'], []);
      } finally {
        await engine.close();
      }
    });
  }
});

describe('PeerExchange', () => {
  const from = (host: string) => new PeerRecord(1, `${host}:1`, host, 1, 0, false, 'manual');

  it('leaves out seeds while seeding: nothing to trade', () => {
    const pex = new PeerExchange('ab'.repeat(20), true);
    const added = [
      { host: '198.51.100.1', port: 1, flags: PexFlag.seed },
      { host: '198.51.100.2', port: 2, flags: PexFlag.reachable },
    ];
    assert.equal(pex.usable(from('198.51.100.9'), added, false).length, 2);
    assert.deepEqual(pex.usable(from('198.51.100.9'), added, true), [{ host: '198.51.100.2', port: 2 }]);
    assert.deepEqual(new PeerExchange('ab'.repeat(20), false).usable(from('198.51.100.9'), added, false), []);
  });

  it('does not advertise a peer known by host name: PEX carries IP literals only', () => {
    const pex = new PeerExchange('ab'.repeat(20), true);
    const named = new PeerRecord(1, 'localhost:1', 'localhost', 1, 0, false, 'manual');
    named.connected = true;
    const command = pex.update([named]);
    assert.deepEqual(command, null, 'an empty list, as the last one (none) was');
  });

  it('classifies addresses by where they can be reached from', () => {
    for (const host of ['0.0.0.0', '0.1.2.3', '224.0.0.1', '239.1.1.1', '255.255.255.255', '::', 'ff02::1'])
      assert.equal(addressScope(host), 'never', host);
    for (const host of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.0.1',
      '169.254.1.1',
      '::1',
      'fe80::1',
      'fd12:3456::1',
      '::ffff:192.168.1.1',
    ])
      assert.equal(addressScope(host), 'local', host);
    for (const host of ['8.8.8.8', '172.32.0.1', '2001:db8::1', 'fe8::1', 'ff::1', '::ffff:8.8.8.8'])
      assert.equal(addressScope(host), 'global', host);
  });
});
