import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import {
  findProgram,
  freePort,
  PORT_HELD_MESSAGE,
  pidAlive,
  requireProgram,
  startListeningProgram,
  startProgram,
  tcpPortOpen,
} from './programs.js';

/** A TestContext stand-in that records skips. */
function fakeContext(): { t: TestContext; skipped: string[] } {
  const skipped: string[] = [];
  return {
    t: { skip: (message?: string) => skipped.push(message ?? '') } as unknown as TestContext,
    skipped,
  };
}

describe('test/support/programs', () => {
  it('finds programs on PATH', () => {
    assert.equal(findProgram('node', process.env.PATH)?.endsWith('/node'), true);
    assert.equal(findProgram('surely-not-a-program-tork'), undefined);
    assert.equal(findProgram('node', ''), undefined);
  });

  it('skips for a missing program, but fails under CI=true', () => {
    const saved = process.env.CI;
    try {
      delete process.env.CI;
      const local = fakeContext();
      assert.equal(requireProgram(local.t, 'surely-not-a-program-tork', 'tork-pkg'), undefined);
      assert.deepEqual(local.skipped, ['surely-not-a-program-tork not installed: apt-get install tork-pkg']);

      process.env.CI = 'true';
      const ci = fakeContext();
      assert.throws(
        () => requireProgram(ci.t, 'surely-not-a-program-tork', 'tork-pkg'),
        /not installed: apt-get install tork-pkg \(required when CI=true\)/,
      );
      assert.deepEqual(ci.skipped, []);
      assert.equal(requireProgram(ci.t, 'node', 'nodejs')?.endsWith('/node'), true);
    } finally {
      if (saved === undefined) delete process.env.CI;
      else process.env.CI = saved;
    }
  });

  it('picks a port free for TCP and UDP', async () => {
    const port = await freePort();
    assert.ok(port > 0 && port < 65536);
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    server.close();
  });

  it('starts a program, waits until it serves, and stops it by PID', async () => {
    const port = await freePort({ protocols: ['tcp'] });
    // Listens only after a delay, so readiness polling is exercised; ignores SIGTERM to exercise SIGKILL.
    const script = `process.on('SIGTERM', () => {}); setTimeout(() => require('net').createServer().listen(${port}, '127.0.0.1'), 200); console.log('hello')`;
    const program = await startProgram(process.execPath, ['-e', script], {
      ready: () => tcpPortOpen('127.0.0.1', port),
      stopGraceMs: 200,
    });
    try {
      assert.ok(program.running());
      assert.ok(pidAlive(program.pid));
      assert.match(program.output(), /hello/);
    } finally {
      await program.stop();
    }
    assert.equal(program.running(), false);
    assert.equal(program.child.signalCode, 'SIGKILL');
    assert.equal(pidAlive(program.pid), false);
    await program.stop(); // idempotent
  });

  it('listens: a program whose port another process holds does not pass for ready, and is stopped', async () => {
    const thief = net.createServer();
    await new Promise<void>((resolve) => thief.listen(0, '127.0.0.1', resolve));
    const taken = (thief.address() as net.AddressInfo).port;
    // Tries the port, and stays up without it (as aria2c does when its IPv4 bind fails).
    const script = (port: number) =>
      `console.log('pid ' + process.pid); const s = require('net').createServer(); s.on('error', () => {}); s.listen(${port}, '127.0.0.1'); setInterval(() => {}, 1000);`;
    try {
      let failure: Error | undefined;
      await startProgram(process.execPath, ['-e', script(taken)], {
        // Once it has started (and printed its pid), the probe is answered: by the other process.
        ready: async (output) => /^pid /m.test(output) && tcpPortOpen('127.0.0.1', taken),
        listens: { port: taken },
      }).then(
        (program) => program.stop(), // a regression: it passed for ready; stopped, and the test fails
        (error: Error) => {
          failure = error;
        },
      );
      assert.ok(failure, 'the start failed');
      assert.match(failure.message, new RegExp(`port ${taken} on 127\\.0\\.0\\.1 ${PORT_HELD_MESSAGE}`));
      const pid = Number(/^pid (\d+)$/m.exec(failure.message)?.[1]);
      assert.ok(pid > 0, failure.message);
      assert.equal(pidAlive(pid), false, 'the program was stopped');
      const own = await freePort({ protocols: ['tcp'] });
      const program = await startProgram(process.execPath, ['-e', script(own)], {
        ready: () => tcpPortOpen('127.0.0.1', own),
        listens: { port: own },
      });
      await program.stop();
    } finally {
      thief.close();
    }
  });

  it('starts a program that names its own port again when it exits before that', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tork-programs-'));
    try {
      // The first start exits 4 (as a libtorrent script whose TCP and uTP ports split); the second
      // listens on a kernel-chosen port and prints it.
      const script = `const fs = require('fs'); const mark = ${JSON.stringify(join(dir, 'tried'))};
        if (!fs.existsSync(mark)) { fs.writeFileSync(mark, ''); process.exit(4); }
        const server = require('net').createServer().listen(0, '127.0.0.1', () => console.log('ready ' + server.address().port));`;
      const program = await startListeningProgram(process.execPath, ['-e', script], {
        portFrom: (output) => {
          const match = /^ready (\d+)$/m.exec(output);
          return match ? Number(match[1]) : undefined;
        },
      });
      try {
        assert.ok(await tcpPortOpen('127.0.0.1', program.port), `listening on ${program.port}`);
      } finally {
        await program.stop();
      }
      await assert.rejects(
        startListeningProgram(process.execPath, ['-e', 'process.exit(4)'], {
          portFrom: () => undefined,
          attempts: 2,
        }),
        /exited \(code 4/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reports a program that exits before it is ready, with its output', async () => {
    await assert.rejects(
      startProgram(process.execPath, ['-e', 'console.error("bad flag"); process.exit(3)'], {
        ready: async () => false,
      }),
      /exited \(code 3[\s\S]*bad flag/,
    );
  });

  it('kills a program that is never ready', async () => {
    await assert.rejects(
      startProgram(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], {
        ready: async () => false,
        readyTimeoutMs: 200,
      }),
      (error: Error) => {
        assert.match(error.message, /not ready after 200 ms/);
        return true;
      },
    );
  });
});
