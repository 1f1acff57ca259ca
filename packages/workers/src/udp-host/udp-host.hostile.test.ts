/**
 * The UDP host against hostile input, on real loopback sockets (each party on its own 127.0.0.x):
 * KRPC garbage, truncated and oversized datagrams; a query flood from one address; nodes that
 * answer get_peers with thousands of values or with our own address; and the bounds of the
 * routing table and the peer store under floods of fake ids and announces.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { after, describe, it } from 'node:test';
import {
  DHT_MAX_ROUTING_NODES,
  DHT_QUERY_BURST_PER_IP,
  decodeBencode,
  encodeBencode,
  encodeCompactPeers,
  type UdpHostEvent,
  type UdpHostWorkerData,
} from '@tork/core';
import { UdpHost } from './udp-host.js';

type Message = Record<string, Record<string, unknown> | Uint8Array | unknown[]>;

/** A UDP party on its own loopback address: sends raw datagrams, collects decoded answers. */
async function party(host: string) {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, host, resolve));
  const received: Message[] = [];
  const waiters: Array<() => void> = [];
  socket.on('message', (bytes) => {
    try {
      received.push(decodeBencode(bytes) as Message);
    } catch {
      return;
    }
    for (const wake of waiters.splice(0)) wake();
  });
  return {
    socket,
    received,
    port: () => socket.address().port,
    send: (bytes: Uint8Array, port: number, to = '127.0.0.1') =>
      new Promise<void>((resolve) => socket.send(bytes, port, to, () => resolve())),
    /** Resolves once a message with transaction id `t` arrived. */
    answer: (t: string) =>
      new Promise<Message>((resolve) => {
        const look = () => {
          const found = received.find((m) => Buffer.from(m.t as Uint8Array).toString() === t);
          if (found) resolve(found);
          else waiters.push(look);
        };
        look();
      }),
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/**
 * Sends a query and waits for its answer, sending it again (new transaction id) when none came
 * within 250 ms: the kernel may drop datagrams while a flood fills the host's receive buffer.
 */
async function ask(
  client: Awaited<ReturnType<typeof party>>,
  query: (t: string) => Uint8Array,
  port: number,
  to: string,
): Promise<Message> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const t = `ask${asked++}`;
    await client.send(query(t), port, to);
    const answer = await Promise.race([
      client.answer(t),
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 250)),
    ]);
    if (answer) return answer;
  }
  throw new Error('no answer after 20 tries');
}
let asked = 0;

const ping = (t: string, id: Uint8Array = randomBytes(20)) =>
  encodeBencode({ t, y: 'q', q: 'ping', a: { id } });

function workerData(host: string, extra: Partial<UdpHostWorkerData> = {}): UdpHostWorkerData {
  return {
    host,
    port: 0,
    peerPort: 7777,
    nodeId: randomBytes(20).toString('hex'),
    nodes: [],
    bootstrap: [],
    settings: {},
    ...extra,
  };
}

const closers: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const close of closers.splice(0)) await close();
});

async function openHost(data: UdpHostWorkerData, options: { now?: () => number } = {}) {
  const events: UdpHostEvent[] = [];
  const host = await UdpHost.open(data, (event) => events.push(event), options);
  closers.push(() => host.close());
  return { host, events };
}

describe('UDP host: hostile input', () => {
  it('drops KRPC garbage, truncated and oversized datagrams and still answers a ping', async () => {
    const { host } = await openHost(workerData('127.0.0.30'));
    const client = await party('127.0.0.31');
    closers.push(client.close);
    const at = (bytes: Uint8Array) => client.send(bytes, host.port, '127.0.0.30');
    const full = ping('ok');
    await at(Buffer.from('d1:t2:xx1:y1:q1:q4:ping1:ad2:id20:')); // truncated
    await at(full.subarray(0, full.length - 1)); // truncated by one byte
    await at(Buffer.concat([full, Buffer.from('trailing')]));
    await at(Buffer.from(`d1:t2:zz1:y1:q1:q4:ping1:a${'d1:x'.repeat(50)}`)); // deep
    await at(
      Buffer.concat([
        Buffer.from('d1:t2:zz1:y1:q1:q4:ping1:ad2:id20:'),
        randomBytes(20),
        Buffer.from('e1:x'),
        Buffer.from(`9000:${'x'.repeat(9000)}`),
        Buffer.from('e'),
      ]),
    ); // oversized
    for (let i = 0; i < 50; i++) await at(Buffer.concat([Buffer.from('d'), randomBytes(i % 40)])); // KRPC-led garbage
    await at(Buffer.from([0x41, ...randomBytes(30)])); // uTP-shaped: no uTP yet
    await at(full);
    const pong = await client.answer('ok');
    assert.equal(Buffer.from(pong.y as Uint8Array).toString(), 'r');
    const stats = host.stats();
    assert.equal(stats.oversized, 1);
    assert.ok(stats.malformed >= 4, `malformed ${stats.malformed}`);
    assert.equal(stats.utp, 1);
    assert.equal(stats.queries, 1, `only the good ping reached the node: ${JSON.stringify(stats)}`);
  });

  it('rate-limits a query flood from one address and stays responsive to others', async () => {
    // A frozen clock: the flooder's bucket never refills, so exactly the burst is answered.
    const { host } = await openHost(workerData('127.0.0.32'), { now: () => 0 });
    const flooder = await party('127.0.0.33');
    const other = await party('127.0.0.34');
    closers.push(flooder.close, other.close);
    const sent = 2000;
    for (let i = 0; i < sent; i++) {
      await flooder.send(ping(`f${i}`), host.port, '127.0.0.32');
      // Let the host read: the kernel drops what overflows its receive buffer, not the host.
      if (i % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    // A well-behaved client retries a query that got no answer; each of its 10 queries is answered.
    for (let i = 0; i < 10; i++) await ask(other, ping, host.port, '127.0.0.32');
    const stats = host.stats();
    const answers = flooder.received.filter((m) => Buffer.from(m.y as Uint8Array).toString() === 'r').length;
    assert.ok(answers <= DHT_QUERY_BURST_PER_IP, `flooder got ${answers} answers`);
    assert.ok(stats.rateLimited > sent / 2, `${stats.rateLimited} of ${sent} dropped by the rate limit`);
  });

  it('takes at most 100 peers from a get_peers answer of hundreds, never our own address, and drops oversized answers', async () => {
    const fake = await party('127.0.0.35');
    closers.push(fake.close);
    let values: Uint8Array[] = [];
    fake.socket.on('message', (bytes, from) => {
      const query = decodeBencode(bytes) as Message;
      const q = Buffer.from(query.q as Uint8Array).toString();
      const r: Record<string, unknown> = { id: randomBytes(20) };
      if (q === 'get_peers') Object.assign(r, { token: 'tk', values });
      void fake.send(encodeBencode({ t: query.t, y: 'r', r }), from.port, from.address);
    });
    const bootstrap = [{ host: '127.0.0.35', port: fake.port() }];
    const { host, events } = await openHost(
      workerData('127.0.0.36', { bootstrap, settings: { queryTimeoutMs: 300 } }),
    );
    const peers = (n: number, own: boolean) => {
      const list = Array.from({ length: n }, (_, i) =>
        encodeCompactPeers([{ host: '10.9.0.1', port: 1000 + i }], 4),
      );
      if (own) list.splice(2, 0, encodeCompactPeers([{ host: '127.0.0.36', port: 7777 }], 4));
      list.splice(5, 0, randomBytes(18));
      return list;
    };
    const lookupDone = (torrentId: string) =>
      new Promise<void>((resolve) => {
        const check = setInterval(() => {
          if (events.some((e) => e.type === 'lookup-done' && e.torrentId === torrentId)) {
            clearInterval(check);
            resolve();
          }
        }, 20);
      });

    values = peers(200, true);
    const first = randomBytes(20).toString('hex');
    host.command({ type: 'lookup', torrentId: first });
    await lookupDone(first);
    const found = events.flatMap((e) => (e.type === 'peers' && e.torrentId === first ? e.peers : []));
    assert.equal(found.length, 100);
    assert.ok(!found.some((p) => p.host === '127.0.0.36' && p.port === 7777), 'not our own address');

    values = peers(5000, false); // ~40 KB: over the datagram cap
    const second = randomBytes(20).toString('hex');
    const before = host.stats().oversized;
    host.command({ type: 'lookup', torrentId: second });
    await lookupDone(second);
    assert.ok(!events.some((e) => e.type === 'peers' && e.torrentId === second));
    assert.ok(host.stats().oversized > before);
  });

  it(`keeps the routing table within ${DHT_MAX_ROUTING_NODES} nodes under a flood of ids close to ours`, async (t) => {
    const ourId = randomBytes(20);
    const { host } = await openHost(
      workerData('127.0.0.37', {
        nodeId: ourId.toString('hex'),
        settings: { queriesPerSecondPerIp: 1e6, queryBurstPerIp: 1e6 },
      }),
    );
    const client = await party('127.0.0.38');
    closers.push(client.close);
    // For each depth d, ids sharing our first d bits: the buckets that split, filled to the brim.
    let sent = 0;
    for (let depth = 0; depth < 160; depth++) {
      for (let j = 0; j < 12; j++) {
        const id = Buffer.from(randomBytes(20));
        for (let bit = 0; bit < depth; bit++) {
          const mask = 0x80 >> (bit % 8);
          id[bit >> 3] = (id[bit >> 3]! & ~mask) | (ourId[bit >> 3]! & mask);
        }
        const mask = 0x80 >> (depth % 8);
        id[depth >> 3] = (id[depth >> 3]! & ~mask) | (~ourId[depth >> 3]! & mask);
        await client.send(ping(`p${sent++}`, id), host.port, '127.0.0.37');
      }
      await ask(client, (t) => ping(t), host.port, '127.0.0.37');
    }
    const { nodes } = host.stats();
    assert.ok(nodes <= DHT_MAX_ROUTING_NODES, `${nodes} nodes`);
    assert.ok(nodes > 500, `the flood did fill the table (${nodes} nodes)`);
    t.diagnostic(`routing table after the flood: ${nodes} nodes`);
  });

  it('bounds the peer store under a flood of announces', async () => {
    const { host } = await openHost(
      workerData('127.0.0.39', {
        settings: { maxStoredPeers: 50, queriesPerSecondPerIp: 1e6, queryBurstPerIp: 1e6 },
      }),
    );
    const client = await party('127.0.0.40');
    closers.push(client.close);
    const id = randomBytes(20);
    const hashes = Array.from({ length: 5 }, () => randomBytes(20));
    const getPeers = (t: string) =>
      encodeBencode({ t, y: 'q', q: 'get_peers', a: { id, info_hash: hashes[0] } });
    const token = ((await ask(client, getPeers, host.port, '127.0.0.39')).r as { token: Uint8Array }).token;
    for (let i = 0; i < 500; i++) {
      const a = { id, info_hash: hashes[i % 5], port: 1000 + i, token };
      await client.send(
        encodeBencode({ t: `a${i}`, y: 'q', q: 'announce_peer', a }),
        host.port,
        '127.0.0.39',
      );
      if (i % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    // Datagrams from one sender are read in order: once this is answered, every announce was read.
    await ask(client, (t) => ping(t), host.port, '127.0.0.39');
    const stats = host.stats();
    assert.ok(stats.storedPeers > 0 && stats.storedPeers <= 100, `${stats.storedPeers} peers stored`);
  });
});
