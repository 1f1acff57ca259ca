import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MessageChannel } from 'node:worker_threads';
import type { HostCommand } from '../messages/host-command.js';
import { PeerBook } from './peer-book.js';
import type { TransportPolicy } from './transport-policy.js';

function book(listenPort = 7000, ourPeerIdHex = '11'.repeat(20), transport?: TransportPolicy) {
  const sent: HostCommand[] = [];
  let next = 1;
  const peers = new PeerBook(
    {
      torrentId: 'ab'.repeat(20),
      ourPeerIdHex,
      listenPort,
      nextActorId: () => next++,
      register: () => {},
      unregister: () => {},
      send: (command) => sent.push(command),
      ...(transport ? { transport } : {}),
    },
    { maxPeers: 10, maxConnecting: 10 },
  );
  return { peers, sent };
}

function incoming(peers: PeerBook, address: string): number {
  const { port1 } = new MessageChannel();
  assert.equal(peers.accept({ address, relay: port1, initial: new Uint8Array(68) }, 0), true);
  port1.close();
  return [...peers.values()].at(-1)!.actorId;
}

const dials = (sent: HostCommand[]) =>
  sent
    .filter((c): c is Extract<HostCommand, { type: 'connect' }> => c.type === 'connect')
    .map((c) => `${c.host}:${c.port}`);

describe('PeerBook', () => {
  it('a lowered maxPeers closes the surplus at once, worst first: attempts, then the slowest, then the newest', () => {
    const { peers, sent } = book();
    peers.addManual(
      [1, 2, 3, 4, 5].map((i) => ({ host: `10.0.0.${i}`, port: 6881 })),
      0,
    );
    peers.connectMore(0);
    const records = [...peers.values()];
    assert.equal(records.length, 5);
    // 1: fast; 2: slow; 3 and 4: idle (4 the newer actor); 5: still connecting.
    for (const [i, record] of records.slice(0, 4).entries()) {
      assert.ok(peers.connected(record, `${i}`.repeat(40), 'x', 0));
    }
    records[0]!.stats = { downloadRate: 1000, uploadRate: 0 } as NonNullable<(typeof records)[0]['stats']>;
    records[1]!.stats = { downloadRate: 10, uploadRate: 5 } as NonNullable<(typeof records)[0]['stats']>;
    sent.length = 0;
    assert.equal(peers.setMaxPeers(5), 0, 'not lowered below the count: nothing closes');
    assert.equal(peers.setMaxPeers(2), 3);
    assert.equal(peers.maxPeers, 2);
    const closed = sent.flatMap((c) => (c.type === 'close' ? [c.actorId] : []));
    assert.deepEqual(closed, [records[4]!.actorId, records[3]!.actorId, records[2]!.actorId]);
    // Until their actors report closed they still count: no dial meanwhile.
    sent.length = 0;
    peers.addManual([{ host: '10.0.0.9', port: 6881 }], 1);
    peers.connectMore(1);
    assert.deepEqual(dials(sent), []);
    assert.throws(() => peers.setMaxPeers(0), RangeError);
  });

  it('dials and accepts no more than the engine-wide room', () => {
    const sent: HostCommand[] = [];
    let next = 1;
    let room = 2;
    const peers = new PeerBook(
      {
        torrentId: 'ab'.repeat(20),
        ourPeerIdHex: '11'.repeat(20),
        listenPort: 7000,
        nextActorId: () => next++,
        register: () => room--,
        unregister: () => room++,
        send: (command) => sent.push(command),
        engineRoom: () => room,
      },
      { maxPeers: 10, maxConnecting: 10 },
    );
    peers.addManual(
      [1, 2, 3, 4].map((i) => ({ host: `10.0.0.${i}`, port: 6881 })),
      0,
    );
    peers.connectMore(0);
    assert.equal(dials(sent).length, 2);
    const { port1 } = new MessageChannel();
    assert.equal(
      peers.accept({ address: '10.0.1.1:5000', relay: port1, initial: new Uint8Array(68) }, 0),
      false,
    );
    port1.close();
  });

  it('runs web seeds as actors that take no peer slot and no upload slot; other schemes are refused with the reason', () => {
    const { peers, sent } = book();
    const layout = { name: 'set', isMultiFile: true, files: [{ path: ['a b'], length: 5, pad: false }] };
    const ignored = peers.addWebSeeds(
      ['http://127.0.0.1:8080/pub/', 'ftp://127.0.0.1/x', 'http://127.0.0.1:8080/pub/'],
      layout,
      0,
    );
    assert.deepEqual(ignored, [{ url: 'ftp://127.0.0.1/x', reason: 'ftp: is not http: or https:' }]);
    const commands = sent.filter((c) => c.type === 'web-seed');
    assert.equal(commands.length, 1, 'a repeated URL runs once');
    assert.deepEqual(commands[0], {
      type: 'web-seed',
      actorId: 1,
      torrentId: 'ab'.repeat(20),
      url: 'http://127.0.0.1:8080/pub/',
      files: [{ url: 'http://127.0.0.1:8080/pub/set/a%20b', length: 5 }],
    });
    const seed = peers.get(1)!;
    assert.equal(seed.source, 'webseed');
    assert.equal(peers.connected(seed, 'cd'.repeat(20), 'web seed', 0), true);
    assert.deepEqual(peers.chokerPeers(), [], 'no upload slot');
    // Ten peers may still be dialled (maxPeers 10): the web seed is not one of them.
    peers.addFromTracker(
      Array.from({ length: 12 }, (_, i) => ({ host: `10.0.0.${i + 1}`, port: 6881 })),
      0,
    );
    peers.connectMore(0);
    assert.equal(dials(sent).length, 10);
    // Closed: its bytes count under its source; banned here although it has no pool address.
    seed.stats = { downloaded: 1234, uploaded: 0 } as typeof seed.stats;
    peers.ban(seed, 'banned: sent data that failed the hash check');
    assert.equal(peers.closed(seed, { code: 'TORK_ERR_ABORTED', message: 'banned', details: {} }, 1), true);
    assert.equal(peers.downloadedBySource().webseed, 1234);
    assert.equal(peers.downloadedBySource().tracker ?? 0, 0);
  });

  it('does not dial a peer that dialled us and gave its listen port (BEP 10 p), until it leaves', () => {
    const { peers, sent } = book();
    const id = incoming(peers, '127.0.0.4:51234');
    const peer = peers.get(id)!;
    assert.equal(peers.connected(peer, 'aa'.repeat(20), 'rtorrent', 0), true);
    peers.identify(peer, 6890, 0);
    // Every re-announce lists its listen address: it is never dialled while connected.
    for (const now of [1_000, 60_000, 120_000]) {
      assert.equal(peers.addFromTracker([{ host: '127.0.0.4', port: 6890 }], now), 1);
      peers.connectMore(now);
    }
    assert.deepEqual(dials(sent), []);
    peers.closed(peer, { code: 'TORK_ERR_IO', message: 'gone', details: {} }, 130_000);
    peers.connectMore(140_000);
    assert.deepEqual(dials(sent), ['127.0.0.4:6890'], 'dialled once it has left');
  });

  it('when a dial turns out to reach a peer already connected to us, that address is not dialled again', () => {
    // Our id is the larger: the incoming connection stays.
    const { peers, sent } = book(7000, 'ff'.repeat(20));
    const id = incoming(peers, '127.0.0.5:40000');
    const inbound = peers.get(id)!;
    peers.connected(inbound, 'aa'.repeat(20), 'x', 0);
    peers.addFromTracker([{ host: '127.0.0.5', port: 6881 }], 0);
    peers.connectMore(0);
    assert.deepEqual(dials(sent), ['127.0.0.5:6881']);
    const outbound = [...peers.values()].find((peer) => !peer.incoming)!;
    assert.equal(peers.connected(outbound, 'aa'.repeat(20), 'x', 10), false, 'the twin is dropped');
    peers.closed(outbound, { code: 'TORK_ERR_ABORTED', message: 'duplicate', details: {} }, 20);
    for (const now of [5_000, 60_000]) {
      peers.addFromTracker([{ host: '127.0.0.5', port: 6881 }], now);
      peers.connectMore(now);
    }
    assert.deepEqual(dials(sent), ['127.0.0.5:6881'], 'dialled once, never again while the twin lives');
  });

  it('prefer: dials encrypted; a failed MSE handshake is followed at once by a plain dial; plain refused at its handshake, encrypted again', () => {
    const { peers, sent } = book(7000, '11'.repeat(20), 'tcp');
    const connects = () =>
      sent.filter((c): c is Extract<HostCommand, { type: 'connect' }> => c.type === 'connect');
    peers.addFromTracker([{ host: '127.0.0.6', port: 6881 }], 0);
    peers.connectMore(0);
    assert.equal(connects()[0]?.encryption, 'prefer');
    const first = [...peers.values()][0]!;
    peers.closed(
      first,
      { code: 'TORK_ERR_WIRE_HANDSHAKE', message: 'encrypted handshake: …', details: { phase: 'mse' } },
      10,
    );
    peers.connectMore(10);
    assert.equal(connects().length, 2, 'dialled again at once');
    assert.equal(connects()[1]?.encryption, undefined, 'in plain BitTorrent');
    // A transport failure of the plain connection is an ordinary one: backoff, still plain.
    peers.closed([...peers.values()][0]!, { code: 'TORK_ERR_IO', message: 'refused', details: {} }, 20);
    peers.connectMore(30);
    assert.equal(connects().length, 2, 'backs off');
    peers.connectMore(5_000);
    assert.equal(connects()[2]?.encryption, undefined, 'plain still');
    // The peer closes the plain handshake (it requires encryption; its MSE failure was passing).
    peers.closed(
      [...peers.values()][0]!,
      { code: 'TORK_ERR_IO', message: 'connection closed by peer', details: { phase: 'handshake' } },
      5_010,
    );
    peers.connectMore(5_020);
    assert.equal(connects().length, 3, 'a failure: it backs off');
    peers.connectMore(60_000);
    assert.equal(connects()[3]?.encryption, 'prefer', 'encrypted again');
    // A peer with no MSE that closed a plain connection at the handshake for another reason is
    // dialled plain again right after the next MSE failure: it is never lost.
    peers.closed(
      [...peers.values()][0]!,
      { code: 'TORK_ERR_IO', message: 'reset', details: { phase: 'mse' } },
      60_010,
    );
    peers.connectMore(60_010);
    assert.equal(connects()[4]?.encryption, undefined, 'plain at once');
  });

  it('prefer, transport both: a plain dial closed at its handshake is followed at once by an encrypted one over uTP', () => {
    const { peers, sent } = book();
    const connects = () =>
      sent.filter((c): c is Extract<HostCommand, { type: 'connect' }> => c.type === 'connect');
    peers.addFromTracker([{ host: '127.0.0.16', port: 6881 }], 0);
    peers.connectMore(0);
    peers.closed(
      [...peers.values()][0]!,
      { code: 'TORK_ERR_IO', message: 'closed', details: { phase: 'mse' } },
      10,
    );
    peers.connectMore(10);
    assert.deepEqual(
      [connects()[1]?.encryption, connects()[1]?.transport],
      [undefined, undefined],
      'plain over TCP',
    );
    // libtorrent with incoming TCP off accepts and closes: this transport, or plain, is refused.
    peers.closed(
      [...peers.values()][0]!,
      { code: 'TORK_ERR_IO', message: 'connection closed by peer', details: { phase: 'handshake' } },
      20,
    );
    peers.connectMore(20);
    assert.deepEqual(
      [connects()[2]?.encryption, connects()[2]?.transport],
      ['prefer', 'utp'],
      'encrypted over uTP, at once',
    );
  });

  it('require: every dial is encrypted, a failed MSE handshake is an ordinary failure; disable: none is', () => {
    for (const [encryption, expected] of [
      ['require', 'require'],
      ['disable', undefined],
    ] as const) {
      const sent: HostCommand[] = [];
      let next = 1;
      const peers = new PeerBook({
        torrentId: 'ab'.repeat(20),
        ourPeerIdHex: '11'.repeat(20),
        listenPort: 7000,
        nextActorId: () => next++,
        register: () => {},
        unregister: () => {},
        send: (command) => sent.push(command),
        encryption,
      });
      peers.addFromTracker([{ host: '127.0.0.7', port: 6881 }], 0);
      peers.connectMore(0);
      const connect = sent.find((c): c is Extract<HostCommand, { type: 'connect' }> => c.type === 'connect');
      assert.equal(connect?.encryption, expected, encryption);
      peers.closed(
        [...peers.values()][0]!,
        { code: 'TORK_ERR_WIRE_HANDSHAKE', message: 'x', details: { phase: 'mse' } },
        10,
      );
      peers.connectMore(10);
      assert.equal(sent.filter((c) => c.type === 'connect').length, 1, `${encryption}: no immediate redial`);
    }
  });

  it('transport both: dials TCP; refused or unanswered, uTP at once; the transport that worked stays', () => {
    const { peers, sent } = book();
    const connects = () =>
      sent.filter((c): c is Extract<HostCommand, { type: 'connect' }> => c.type === 'connect');
    peers.addFromTracker([{ host: '127.0.0.8', port: 6881 }], 0);
    peers.connectMore(0);
    assert.equal(connects()[0]?.transport, undefined, 'TCP first');
    const refused = {
      code: 'TORK_ERR_IO' as const,
      message: 'connection refused',
      details: { cause: 'ECONNREFUSED' },
    };
    peers.closed([...peers.values()][0]!, refused, 10);
    peers.connectMore(10);
    assert.equal(connects().length, 2, 'dialled again at once');
    assert.equal(connects()[1]?.transport, 'utp', 'over uTP');
    const overUtp = [...peers.values()][0]!;
    assert.equal(peers.connected(overUtp, 'aa'.repeat(20), 'lt', 20, { transport: 'utp' }), true);
    peers.closed(overUtp, { code: 'TORK_ERR_IO', message: 'connection closed by peer', details: {} }, 30);
    peers.connectMore(5_000);
    assert.equal(connects()[2]?.transport, 'utp', 'the transport that worked is dialled again');
    // Both transports fail now: one immediate switch back to TCP, then ordinary backoff.
    peers.closed(
      [...peers.values()][0]!,
      { code: 'TORK_ERR_UTP', message: 'timeout: could not connect', details: {} },
      5_010,
    );
    peers.connectMore(5_010);
    assert.equal(connects()[3]?.transport, undefined, 'TCP at once');
    peers.closed([...peers.values()][0]!, refused, 5_020);
    peers.connectMore(5_030);
    assert.equal(connects().length, 4, 'then it backs off');
    peers.connectMore(60_000);
    assert.equal(connects()[4]?.transport, 'utp', 'and alternates');
  });

  it('transport both: a failed MSE handshake or a bad BitTorrent handshake does not switch the transport', () => {
    const { peers, sent } = book();
    const connects = () =>
      sent.filter((c): c is Extract<HostCommand, { type: 'connect' }> => c.type === 'connect');
    peers.addFromTracker([{ host: '127.0.0.9', port: 6881 }], 0);
    peers.connectMore(0);
    peers.closed(
      [...peers.values()][0]!,
      { code: 'TORK_ERR_IO', message: 'reset', details: { phase: 'mse' } },
      10,
    );
    peers.connectMore(10);
    assert.equal(connects()[1]?.transport, undefined, 'MSE failed: plain, over TCP still');
    peers.closed(
      [...peers.values()][0]!,
      { code: 'TORK_ERR_WIRE_HANDSHAKE', message: 'bad', details: {} },
      20,
    );
    peers.connectMore(20);
    assert.equal(connects().length, 2, 'a bad handshake backs off, no other transport');
  });

  it('transport utp: every dial is uTP; tcp: none is, and a failure never switches', () => {
    for (const [transport, expected] of [
      ['utp', 'utp'],
      ['tcp', undefined],
    ] as const) {
      const { peers, sent } = book(7000, '11'.repeat(20), transport);
      peers.addFromTracker([{ host: '127.0.0.10', port: 6881 }], 0);
      peers.connectMore(0);
      const connects = sent.filter(
        (c): c is Extract<HostCommand, { type: 'connect' }> => c.type === 'connect',
      );
      assert.equal(connects[0]?.transport, expected, transport);
      peers.closed([...peers.values()][0]!, { code: 'TORK_ERR_IO', message: 'refused', details: {} }, 10);
      peers.connectMore(10);
      assert.equal(sent.filter((c) => c.type === 'connect').length, 1, `${transport}: no immediate redial`);
    }
  });

  it('an incoming uTP connection is accepted as uTP (the actor relays it as such)', () => {
    const { peers, sent } = book();
    const { port1 } = new MessageChannel();
    assert.equal(
      peers.accept(
        { address: '127.0.0.11:4000', relay: port1, initial: new Uint8Array(68), transport: 'utp' },
        0,
      ),
      true,
    );
    port1.close();
    const accept = sent.find((c) => c.type === 'accept');
    assert.equal(accept?.type === 'accept' ? accept.transport : 'none', 'utp');
  });

  it('counts tracker peers without ourselves', () => {
    const { peers } = book(7000);
    assert.equal(
      peers.addFromTracker(
        [
          { host: '127.0.0.1', port: 7000 },
          { host: '127.0.0.9', port: 7001 },
        ],
        0,
      ),
      1,
    );
  });
});
