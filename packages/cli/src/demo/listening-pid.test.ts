/**
 * A seeder started on a port that another process holds must not pass for listening: the
 * listener's owner is read from /proc, and spawnOnFreePort moves on to another port.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { describe, it } from 'node:test';
import { listensOn } from './listening-pid.js';
import { freePort, SEEDER_PORT_ATTEMPTS, spawnOnFreePort } from './seeders.js';

const onLinux = process.platform === 'linux';

async function listen(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : 0 };
}

/** A child that listens on 127.0.0.1:port when it can and otherwise stays up without (like aria2c). */
const listenOrIdle = (port: number) =>
  spawn(
    process.execPath,
    [
      '-e',
      `const s = require('node:net').createServer(); s.on('error', () => {}); s.listen(${port}, '127.0.0.1'); setInterval(() => {}, 1000);`,
    ],
    { stdio: 'ignore' },
  );

/** `listenOrIdle`, each child's pid noted in `started`. */
const recorded = (started: number[]) => (port: number) => {
  const child = listenOrIdle(port);
  started.push(child.pid!);
  return child;
};

/** Kills what a failed assertion would leave running (a live child keeps the test process up). */
const killAll = (pids: readonly number[]) => {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
};

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('a seeder listens on its port itself', { skip: onLinux ? false : 'reads /proc (Linux)' }, () => {
  it('listensOn: our own listener yes, another process’s no, a closed port no', async () => {
    const { server, port } = await listen();
    const child = listenOrIdle(await freePort());
    try {
      assert.equal(listensOn(process.pid, port), true);
      assert.equal(listensOn(child.pid!, port), false, 'the child holds no socket on our port');
      server.close();
      await once(server, 'close');
      assert.equal(listensOn(process.pid, port), false);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('listensOn another loopback address: that address or 0.0.0.0, never 127.0.0.1 for it', async () => {
    const server = createServer();
    server.listen(0, '127.0.0.4');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    const any = createServer();
    any.listen(0, '0.0.0.0');
    await once(any, 'listening');
    const anyPort = (any.address() as { port: number }).port;
    try {
      assert.equal(listensOn(process.pid, port, '127.0.0.4'), true);
      assert.equal(listensOn(process.pid, port), false, 'not on 127.0.0.1');
      assert.equal(listensOn(process.pid, port, '127.0.0.5'), false);
      assert.equal(listensOn(process.pid, anyPort, '127.0.0.5'), true, '0.0.0.0 serves every address');
      assert.throws(() => listensOn(process.pid, port, '::1'), /not an IPv4 address/);
      // An IPv6 socket on the v4-mapped address (as rtorrent listens) counts; `::` alone does not.
      const mapped = createServer();
      mapped.listen(0, '::ffff:127.0.0.4');
      await once(mapped, 'listening');
      const v6any = createServer();
      v6any.listen({ port: 0, host: '::', ipv6Only: true });
      await once(v6any, 'listening');
      try {
        assert.equal(listensOn(process.pid, (mapped.address() as { port: number }).port, '127.0.0.4'), true);
        assert.equal(listensOn(process.pid, (v6any.address() as { port: number }).port), false);
      } finally {
        mapped.close();
        v6any.close();
      }
      assert.throws(() => listensOn(process.pid, port, '127.0.0.256'), /not an IPv4 address/);
    } finally {
      server.close();
      any.close();
    }
  });

  it('spawnOnFreePort: a port held by another process is given up (its program stopped) for the next', async () => {
    const { server, port: taken } = await listen();
    const picks = [taken];
    const started: number[] = [];
    try {
      const { child, port } = await spawnOnFreePort(
        recorded(started),
        'test listener',
        10_000,
        async () => picks.shift() ?? freePort(),
      );
      assert.notEqual(port, taken);
      assert.equal(started.length, 2);
      assert.equal(alive(started[0]!), false, 'the program on the stolen port was stopped');
      assert.equal(listensOn(child.pid!, port), true);
    } finally {
      killAll(started);
      server.close();
    }
  });

  it(`spawnOnFreePort: gives up after ${SEEDER_PORT_ATTEMPTS} ports, all held, and leaves nothing running`, async () => {
    const { server, port: taken } = await listen();
    const started: number[] = [];
    try {
      await assert.rejects(
        spawnOnFreePort(recorded(started), 'test listener', 10_000, async () => taken),
        /held by another process \(5 ports tried\)/,
      );
      assert.equal(started.length, SEEDER_PORT_ATTEMPTS);
      for (const pid of started) assert.equal(alive(pid), false, `pid ${pid} still running`);
    } finally {
      killAll(started);
      server.close();
    }
  });
});
