/**
 * uTP in the UDP host, on real loopback sockets: two hosts (each its own socket, as two clients
 * would be) connect, stream both ways through their relays and close; and one host under hostile
 * datagrams: a SYN flood (bounded half-open connections), malformed packets, packets of no
 * connection (answered with a budgeted reset), a dial nobody answers.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { describe, it } from 'node:test';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import {
  decodeUtpPacket,
  encodeUtpPacket,
  parseRelayMessage,
  RELAY_WINDOW_BYTES,
  type UdpHostEvent,
  type UdpHostWorkerData,
  UtpType,
} from '@tork/core';
import { UdpHost } from './udp-host.js';
import { UTP_RESETS_PER_SECOND, UtpHost } from './utp-host.js';

/** A SYN as a dialler sends it (BEP 29): its receive id, its first seq. */
function synPacket(connectionId: number): Uint8Array {
  return encodeUtpPacket({
    type: UtpType.syn,
    connectionId,
    timestampMicros: 0,
    timestampDifferenceMicros: 0,
    windowSize: 1 << 20,
    seq: 1,
    ack: 0,
    payload: new Uint8Array(0),
  });
}

/** A packet without payload of `type` on `connectionId` (seq 1, ack 1, zero window and times). */
function emptyPacket(type: UtpType, connectionId: number): Uint8Array {
  return encodeUtpPacket({
    type,
    connectionId,
    timestampMicros: 0,
    timestampDifferenceMicros: 0,
    windowSize: 0,
    seq: 1,
    ack: 1,
    payload: new Uint8Array(0),
  });
}

function data(utp: UdpHostWorkerData['utp']): UdpHostWorkerData {
  return {
    host: '127.0.0.1',
    port: 0,
    peerPort: 0,
    nodeId: randomBytes(20).toString('hex'),
    nodes: [],
    bootstrap: [],
    settings: {},
    dht: false,
    utp: { minRtoMs: 50, ...utp },
  };
}

async function host(utp: UdpHostWorkerData['utp'] = {}) {
  const events: UdpHostEvent[] = [];
  const waiters: Array<() => void> = [];
  const udp = await UdpHost.open(data(utp), (event) => {
    events.push(event);
    for (const wake of waiters.splice(0)) wake();
  });
  const incoming = () =>
    new Promise<Extract<UdpHostEvent, { type: 'utp-incoming' }>>((resolve) => {
      const look = () => {
        const index = events.findIndex((event) => event.type === 'utp-incoming');
        if (index >= 0)
          resolve(events.splice(index, 1)[0] as Extract<UdpHostEvent, { type: 'utp-incoming' }>);
        else waiters.push(look);
      };
      look();
    });
  return { udp, events, incoming };
}

/** An actor's end of a relay: collects bytes (acknowledging them unless told not to), writes. */
function endpoint(port: MessagePort, options: { ack?: boolean } = {}) {
  const chunks: Buffer[] = [];
  let received = 0;
  let open = false;
  let ended: string | undefined;
  let acked = 0;
  const waiters: Array<() => void> = [];
  port.on('message', (value: unknown) => {
    const message = parseRelayMessage(value);
    if (message instanceof ArrayBuffer) {
      chunks.push(Buffer.from(message));
      received += message.byteLength;
      if (options.ack !== false) port.postMessage({ type: 'ack', bytes: message.byteLength });
    } else if (message.type === 'open') open = true;
    else if (message.type === 'end') ended = message.reason;
    else if (message.type === 'ack') acked += message.bytes;
    for (const wake of waiters.splice(0)) wake();
  });
  const until = (done: () => boolean, timeoutMs: number, what: string) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timeout waiting for ${what}`)), timeoutMs);
      const look = () => {
        if (done()) {
          clearTimeout(timer);
          resolve();
        } else waiters.push(look);
      };
      look();
    });
  return {
    get received() {
      return received;
    },
    get open() {
      return open;
    },
    get ended() {
      return ended;
    },
    get acked() {
      return acked;
    },
    bytes: () => Buffer.concat(chunks),
    ack: (bytes: number) => port.postMessage({ type: 'ack', bytes }),
    write(bytes: Uint8Array) {
      // As the relay transport writes: a pooled buffer, moved.
      const buffer = new ArrayBuffer(bytes.length + 100);
      new Uint8Array(buffer).set(bytes);
      port.postMessage({ type: 'data', buffer, length: bytes.length }, [buffer]);
    },
    end: () => port.postMessage({ type: 'end', reason: 'done' }),
    until,
  };
}

describe('uTP in the UDP host', { timeout: 60_000 }, () => {
  it('two hosts: dial, stream 3 MiB each way byte-identical, writers acknowledged, orderly close', async () => {
    const a = await host();
    const b = await host();
    try {
      const { port1, port2 } = new MessageChannel();
      const dialler = endpoint(port2);
      a.udp.command({ type: 'utp-connect', host: '127.0.0.1', port: b.udp.port, relay: port1 });
      const incoming = await b.incoming();
      assert.match(incoming.address, /^127\.0\.0\.1:\d+$/);
      const acceptor = endpoint(incoming.relay);
      await dialler.until(() => dialler.open, 5_000, 'open');
      const up = randomBytes(3 * 1024 * 1024);
      const down = randomBytes(3 * 1024 * 1024);
      for (let at = 0; at < up.length; at += 64 * 1024) dialler.write(up.subarray(at, at + 64 * 1024));
      for (let at = 0; at < down.length; at += 64 * 1024) acceptor.write(down.subarray(at, at + 64 * 1024));
      await acceptor.until(() => acceptor.received >= up.length, 30_000, 'the upload');
      await dialler.until(() => dialler.received >= down.length, 30_000, 'the download');
      assert.ok(acceptor.bytes().equals(up), 'dialler → acceptor byte-identical');
      assert.ok(dialler.bytes().equals(down), 'acceptor → dialler byte-identical');
      // Writers hear their bytes acknowledged once the peer has them (the actor's back-pressure).
      await dialler.until(() => dialler.acked === up.length, 5_000, "the dialler's acks");
      await acceptor.until(() => acceptor.acked === down.length, 5_000, "the acceptor's acks");
      const stats = a.udp.stats();
      assert.equal(stats.utpDialled, 1);
      assert.equal(stats.utpConnections, 1);
      assert.equal(b.udp.stats().utpAccepted, 1);
      assert.equal(b.udp.stats().utpHalfOpen, 0, 'data arrived: no longer half-open');
      dialler.end();
      await acceptor.until(() => acceptor.ended !== undefined, 10_000, 'the FIN');
      await dialler.until(() => dialler.ended !== undefined, 10_000, 'the close');
      assert.equal(a.udp.stats().utpConnections, 0);
      assert.equal(b.udp.stats().utpConnections, 0);
    } finally {
      await a.udp.close();
      await b.udp.close();
    }
  });

  it('a reader that never consumes holds the sender at the relay window, and releases it when it does', async () => {
    const a = await host();
    const b = await host();
    try {
      const { port1, port2 } = new MessageChannel();
      const dialler = endpoint(port2);
      a.udp.command({ type: 'utp-connect', host: '127.0.0.1', port: b.udp.port, relay: port1 });
      const incoming = await b.incoming();
      const lazy = endpoint(incoming.relay, { ack: false });
      await dialler.until(() => dialler.open, 5_000, 'open');
      const total = RELAY_WINDOW_BYTES * 2;
      const chunk = randomBytes(256 * 1024);
      for (let at = 0; at < total; at += chunk.length) dialler.write(chunk);
      await lazy.until(() => lazy.received >= RELAY_WINDOW_BYTES - 64 * 1024, 30_000, 'a window of data');
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.ok(
        lazy.received <= RELAY_WINDOW_BYTES + 128 * 1024,
        `delivered ${lazy.received} bytes with none consumed (window ${RELAY_WINDOW_BYTES})`,
      );
      lazy.ack(lazy.received);
      await lazy.until(() => lazy.received >= total, 30_000, 'the rest');
    } finally {
      await a.udp.close();
      await b.udp.close();
    }
  });

  it('a dial nobody answers ends with a timeout; a SYN flood stays within the half-open cap', async () => {
    const a = await host({ connectTimeoutMs: 400, maxHalfOpen: 8 });
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    const answers: Buffer[] = [];
    silent.on('message', (bytes) => answers.push(bytes));
    try {
      const { port1, port2 } = new MessageChannel();
      const dialler = endpoint(port2);
      a.udp.command({ type: 'utp-connect', host: '127.0.0.1', port: silent.address().port, relay: port1 });
      await dialler.until(() => dialler.ended !== undefined, 5_000, 'the dial to fail');
      assert.match(dialler.ended!, /could not connect|timeout/);
      assert.equal(dialler.open, false);
      // 200 SYNs with distinct ids from one address: 8 become half-open connections, the rest reset.
      for (let id = 0; id < 200; id++) {
        const syn = synPacket(id * 2);
        silent.send(syn, a.udp.port, '127.0.0.1');
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      const stats = a.udp.stats();
      assert.equal(stats.utpHalfOpen, 8, JSON.stringify(stats));
      assert.equal(stats.utpAccepted, 8);
      assert.equal(stats.utpRefused, 192);
      const resets = answers.filter((bytes) => decodeUtpPacket(bytes).type === UtpType.reset);
      assert.ok(resets.length > 0 && resets.length <= UTP_RESETS_PER_SECOND, `${resets.length} resets`);
      // Not uTP at all (a bad version, a truncated header): the demultiplexer counts them unknown.
      // uTP with a broken extension chain (one promised and missing, a zero-length SACK): malformed.
      const header = () => Buffer.from(emptyPacket(UtpType.state, 5));
      const promised = header();
      promised[1] = 1;
      const emptySack = Buffer.concat([header(), Buffer.from([0, 0])]);
      emptySack[1] = 1;
      const bad = [
        Buffer.from([0x02, ...new Uint8Array(19)]),
        Buffer.from([0x41, 0, 1, 2]),
        promised,
        emptySack,
      ];
      for (const bytes of bad) silent.send(bytes, a.udp.port, '127.0.0.1');
      // A data packet for no connection of ours.
      const stray = encodeUtpPacket({
        type: UtpType.data,
        connectionId: 9999,
        timestampMicros: 0,
        timestampDifferenceMicros: 0,
        windowSize: 1 << 20,
        seq: 7,
        ack: 1,
        payload: new Uint8Array(10),
      });
      silent.send(stray, a.udp.port, '127.0.0.1');
      await new Promise((resolve) => setTimeout(resolve, 200));
      const after = a.udp.stats();
      assert.equal(after.utpMalformed, 2, JSON.stringify(after));
      assert.equal(after.unknown, 2, JSON.stringify(after));
      assert.equal(after.utpStray, 1);
      assert.ok(after.utpConnections <= 8);
    } finally {
      await a.udp.close();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('at the connection cap, a dial ends at once and a SYN is refused', async () => {
    const a = await host({ maxConnections: 2 });
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    try {
      for (let id = 0; id < 3; id++) {
        const syn = synPacket(100 + id * 2);
        silent.send(syn, a.udp.port, '127.0.0.1');
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(a.udp.stats().utpConnections, 2);
      const { port1, port2 } = new MessageChannel();
      const dialler = endpoint(port2);
      a.udp.command({ type: 'utp-connect', host: '127.0.0.1', port: silent.address().port, relay: port1 });
      await dialler.until(() => dialler.ended !== undefined, 2_000, 'the refused dial');
      assert.match(dialler.ended!, /too many uTP connections/);
      assert.equal(a.udp.stats().utpRefused, 2, 'the third SYN and the dial');
    } finally {
      await a.udp.close();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('a writer that ends and closes its port at once (as a session does): every byte still reaches the peer, then the FIN', async () => {
    const a = await host();
    const b = await host();
    try {
      const { port1, port2 } = new MessageChannel();
      const dialler = endpoint(port2);
      a.udp.command({ type: 'utp-connect', host: '127.0.0.1', port: b.udp.port, relay: port1 });
      const acceptor = endpoint((await b.incoming()).relay);
      await dialler.until(() => dialler.open, 5_000, 'open');
      const last = randomBytes(2 * 1024 * 1024);
      dialler.write(last);
      dialler.end();
      port2.close();
      await acceptor.until(() => acceptor.ended !== undefined, 20_000, 'the FIN');
      assert.equal(acceptor.received, last.length, `then the end (${acceptor.ended})`);
      assert.ok(acceptor.bytes().equals(last));
    } finally {
      await a.udp.close();
      await b.udp.close();
    }
  });
});

describe('uTP RESET budget', () => {
  it("opens its one-second window at the first RESET, not at the clock's origin", () => {
    // A clock that starts at 0, as `performance.now()` does in a young process.
    let clock = 0;
    let resets = 0;
    const utp = new UtpHost({
      settings: {},
      send: (bytes) => {
        if (decodeUtpPacket(bytes).type === UtpType.reset) resets++;
      },
      onIncoming: () => assert.fail('no connection is opened'),
      now: () => clock,
    });
    // Packets of no connection, each answered with a RESET while the budget lasts.
    const stray = (count: number) => {
      for (let id = 0; id < count; id++) {
        utp.receive(emptyPacket(UtpType.state, 1000 + id), '127.0.0.1', 6881);
      }
    };
    try {
      // A burst just before the clock reaches 1 s, another just after: one window, one budget.
      clock = 990;
      stray(150);
      clock = 1010;
      stray(150);
      assert.equal(resets, UTP_RESETS_PER_SECOND);
      assert.equal(utp.counters().stray, 300);
      // The window the first RESET opened (at 990) ends at 1990: a new budget.
      clock = 1990;
      stray(150);
      assert.equal(resets, 2 * UTP_RESETS_PER_SECOND);
      // A RESET from the peer is never answered, within budget or not.
      clock = 5000;
      utp.receive(emptyPacket(UtpType.reset, 7), '127.0.0.1', 6881);
      assert.equal(resets, 2 * UTP_RESETS_PER_SECOND);
    } finally {
      utp.close();
    }
  });
});
