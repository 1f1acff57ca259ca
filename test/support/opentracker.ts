/**
 * Debian's `opentracker` on 127.0.0.1 for tests. Its build only tracks whitelisted info-hashes.
 * Started as root it chroots into `-d` and drops to `-u nobody`; the whitelist path is read after
 * the chdir/chroot, so a relative `-w whitelist.txt` works both as root (chrooted) and as another
 * user (chroot fails, chdir works).
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AnnounceRequest, HttpTrackerClient, UdpTrackerClient } from '@tork/core';
import { freePort, retry, type StartedProgram, startProgram } from './programs.js';

/** Whitelisted on every tracker started here: the readiness probe announces it. */
export const PROBE_HASH = 'cc'.repeat(20);

export interface Opentracker {
  readonly program: StartedProgram;
  readonly port: number;
  readonly dir: string;
  readonly commandLine: string;
  readonly httpUrl: string;
  readonly udpUrl: string;
  /** Stops it by PID and removes its directory. */
  stop(): Promise<void>;
}

/** Ready means: HTTP and UDP both answer an announce for a whitelisted hash (whitelist loaded). */
async function probe(port: number): Promise<boolean> {
  const request: AnnounceRequest = {
    infoHash: Uint8Array.from(Buffer.from(PROBE_HASH, 'hex')),
    peerId: new TextEncoder().encode('-TK0001-probe0000000'),
    port: 1,
    uploaded: 0,
    downloaded: 0,
    left: 0,
    event: 'stopped',
  };
  const http = new HttpTrackerClient(`http://127.0.0.1:${port}/announce`, { timeoutMs: 500 });
  const udp = new UdpTrackerClient(`udp://127.0.0.1:${port}/announce`, {
    baseTimeoutMs: 100,
    maxRetransmissions: 0,
  });
  try {
    await http.announce({ ...request, event: 'started' });
    await http.announce(request);
    await udp.announce(request);
    return true;
  } catch {
    return false;
  } finally {
    http.close();
    udp.close();
  }
}

/** Starts opentracker on a free port (TCP and UDP) tracking `whitelist` (hex info-hashes). */
export async function startOpentracker(bin: string, whitelist: readonly string[]): Promise<Opentracker> {
  const dir = await mkdtemp(join(tmpdir(), 'tork-opentracker-'));
  // After dropping to nobody it must still read the whitelist inside its chroot.
  await chmod(dir, 0o755);
  await writeFile(join(dir, 'whitelist.txt'), `${[...whitelist, PROBE_HASH].join('\n')}\n`, { mode: 0o644 });
  try {
    return await retry(3, async () => {
      const port = await freePort({ protocols: ['tcp', 'udp'] });
      const args = [
        '-i',
        '127.0.0.1',
        '-p',
        String(port),
        '-P',
        String(port),
        '-d',
        dir,
        '-w',
        'whitelist.txt',
      ];
      if (process.getuid?.() === 0) args.push('-u', 'nobody');
      const program = await startProgram(bin, args, { ready: () => probe(port), readyTimeoutMs: 10_000 });
      return {
        program,
        port,
        dir,
        commandLine: `${bin} ${args.join(' ')}`,
        httpUrl: `http://127.0.0.1:${port}/announce`,
        udpUrl: `udp://127.0.0.1:${port}/announce`,
        async stop() {
          await program.stop();
          await rm(dir, { recursive: true, force: true });
        },
      };
    });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
