/**
 * `udpTwin`: uTP and the DHT bind the TCP port's number for UDP, so with `--port 0` the Listener
 * keeps a kernel-chosen port only when its UDP twin is free too (CI37: `tork download --transport
 * utp --port 0` got a TCP port whose UDP twin another process held, and every dial was "uTP is off").
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { describe, it } from 'node:test';
import { LISTEN_PORT_ATTEMPTS, Listener, withFreeTwin } from './listener.js';

/** A stand-in for a bound listener: its port, and whether it was closed. */
function fakeBinder(ports: number[]) {
  const closed: number[] = [];
  let next = 0;
  const bind = async () => {
    const port = ports[next++]!;
    return {
      port,
      close: async () => {
        closed.push(port);
      },
    };
  };
  return { bind, closed };
}

describe('Listener: a port whose UDP twin is free (udpTwin)', () => {
  it('gives up ports whose twin is taken, closing each, and keeps the first free one', async () => {
    const { bind, closed } = fakeBinder([40001, 40002, 40003, 40004]);
    const taken = new Set([40001, 40002, 40003]);
    const kept = await withFreeTwin(bind, async (port) => !taken.has(port), 8);
    assert.equal(kept.port, 40004);
    assert.deepEqual(closed, [40001, 40002, 40003]);
  });

  it('keeps the last port after every attempt, its twin taken or not (TCP still works)', async () => {
    const ports = Array.from({ length: LISTEN_PORT_ATTEMPTS }, (_, i) => 41000 + i);
    const { bind, closed } = fakeBinder(ports);
    let asked = 0;
    const kept = await withFreeTwin(
      bind,
      async () => {
        asked++;
        return false;
      },
      LISTEN_PORT_ATTEMPTS,
    );
    assert.equal(kept.port, ports.at(-1));
    assert.equal(closed.length, LISTEN_PORT_ATTEMPTS - 1);
    assert.equal(asked, LISTEN_PORT_ATTEMPTS - 1, 'the last port is kept without asking');
  });

  it('one attempt only: the first port is kept without a probe (a fixed port, or no udpTwin)', async () => {
    const { bind, closed } = fakeBinder([42000]);
    const kept = await withFreeTwin(bind, async () => assert.fail('no probe'), 1);
    assert.equal(kept.port, 42000);
    assert.deepEqual(closed, []);
  });

  it('a real Listener on port 0 with udpTwin: its UDP twin binds', async () => {
    // Many kernel-chosen ports in a row: each one's twin must bind (the probe found it free).
    for (let i = 0; i < 20; i++) {
      const listener = await Listener.listen({
        port: 0,
        host: '127.0.0.1',
        udpTwin: true,
        onPeer: () => false,
      });
      const udp: UdpSocket = createSocket('udp4');
      try {
        await new Promise<void>((resolve, reject) => {
          udp.once('error', reject);
          udp.bind(listener.port, '127.0.0.1', () => resolve());
        });
      } finally {
        udp.close();
        await listener.close();
      }
    }
  });

  it('a fixed port is never changed, whatever its twin', async () => {
    const holder = createSocket('udp4');
    await new Promise<void>((resolve) => holder.bind(0, '127.0.0.1', () => resolve()));
    const port = holder.address().port;
    try {
      const listener = await Listener.listen({ port, host: '127.0.0.1', udpTwin: true, onPeer: () => false });
      assert.equal(listener.port, port);
      await listener.close();
    } finally {
      holder.close();
    }
  });
});
