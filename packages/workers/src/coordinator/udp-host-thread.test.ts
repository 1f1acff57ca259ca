/**
 * What `tork download` relies on since it stopped waiting for the UDP host (docs/architecture.md,
 * "The UDP host beside the download"): a uTP dial made while the thread is still starting is
 * queued and sent once its socket listens, and one made while it starts and then fails ends with
 * "uTP is off" (which `both` answers with a TCP dial), never silently.
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { describe, it } from 'node:test';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { UdpHostThread } from './udp-host-thread.js';
import { UtpService } from './utp-service.js';

function boundSocket(): Promise<Socket> {
  const socket = createSocket('udp4');
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => resolve(socket));
  });
}

function firstMessage(port: MessagePort, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), timeoutMs);
    port.once('message', (message: unknown) => {
      clearTimeout(timer);
      resolve(message);
    });
  });
}

describe('UdpHostThread: uTP dials made while it starts', { timeout: 60_000 }, () => {
  it('are queued and sent once the socket listens', async () => {
    // A UDP socket that never answers: the dial's SYN goes out and waits (no 'uTP is off').
    const silent = await boundSocket();
    const thread = new UdpHostThread({ host: '127.0.0.1', port: 0, udpPort: 0 });
    const utp = new UtpService({ thread, onPeer: () => false });
    const { port1, port2 } = new MessageChannel();
    try {
      const starting = utp.start();
      assert.equal(thread.state, 'starting');
      utp.dial('127.0.0.1', (silent.address() as { port: number }).port, port1);
      const answer = firstMessage(port2, 1_000);
      await starting;
      assert.equal(thread.state, 'running');
      let dialled = 0;
      for (let attempt = 0; attempt < 50 && dialled === 0; attempt++) {
        dialled = (await thread.stats())?.utpDialled ?? 0;
        if (dialled === 0) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(dialled, 1, 'the queued dial reached the UDP host');
      assert.equal(await answer, undefined, 'nothing ended the dial meanwhile');
    } finally {
      port1.close();
      port2.close();
      utp.close();
      await thread.close();
      silent.close();
    }
  });

  it('end with "uTP is off" when the thread fails to listen', async () => {
    // The port taken: the UDP host cannot bind it.
    const taken = await boundSocket();
    const port = (taken.address() as { port: number }).port;
    const thread = new UdpHostThread({ host: '127.0.0.1', port });
    const utp = new UtpService({ thread, onPeer: () => false });
    thread.listen({ error: () => {} });
    const { port1, port2 } = new MessageChannel();
    try {
      const starting = utp.start();
      utp.dial('127.0.0.1', 9, port1);
      const answer = firstMessage(port2, 10_000);
      await starting;
      assert.equal(thread.state, 'failed');
      assert.deepEqual(await answer, { type: 'end', reason: 'uTP is off' });
    } finally {
      port1.close();
      port2.close();
      utp.close();
      await thread.close();
      taken.close();
    }
  });
});
