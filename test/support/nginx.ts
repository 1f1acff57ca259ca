/**
 * A real nginx (Debian's `nginx` package) serving a directory on a free loopback port, for web seed
 * (BEP 19) tests: a generated config in a temp prefix, run in the foreground without a master
 * process (`daemon off; master_process off;`), stopped by PID when the test ends. `ignoreRange`
 * sets `max_ranges 0`: nginx then answers every `Range` request with 200 and the whole file.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import {
  freePort,
  requireProgram,
  retry,
  type StartedProgram,
  startProgram,
  tcpPortOpen,
} from './programs.js';

export interface Nginx {
  readonly port: number;
  /** `http://127.0.0.1:PORT/` */
  readonly url: string;
  readonly program: StartedProgram;
}

/** nginx's path, or undefined when the test was skipped (never under CI=true). */
export function requireNginx(t: TestContext): string | undefined {
  return requireProgram(t, 'nginx', 'nginx');
}

/** Serves `root` (read-only) on 127.0.0.1; stopped by PID after the test. */
export async function startNginx(
  t: TestContext,
  bin: string,
  root: string,
  options: { ignoreRange?: boolean } = {},
): Promise<Nginx> {
  const prefix = await mkdtemp(join(tmpdir(), 'tork-nginx-'));
  t.after(() => rm(prefix, { recursive: true, force: true }));
  for (const dir of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) await mkdir(join(prefix, dir));
  return retry(3, async () => {
    const port = await freePort({ protocols: ['tcp'] });
    const conf = join(prefix, 'nginx.conf');
    await writeFile(
      conf,
      [
        'events { worker_connections 256; }',
        'http {',
        '  access_log off;',
        // Temp paths inside the prefix: the packaged defaults (/var/lib/nginx) need not exist.
        ...['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(
          (dir) => `  ${dir === 'body' ? 'client_body' : dir}_temp_path ${join(prefix, dir)};`,
        ),
        '  default_type application/octet-stream;',
        '  sendfile on;',
        '  server {',
        `    listen 127.0.0.1:${port};`,
        `    root ${root};`,
        `    location / { ${options.ignoreRange ? 'max_ranges 0;' : ''} }`,
        '  }',
        '}',
        '',
      ].join('\n'),
    );
    const program = await startProgram(
      bin,
      [
        '-p',
        prefix,
        '-c',
        conf,
        '-g',
        `daemon off; master_process off; pid ${join(prefix, 'nginx.pid')}; error_log stderr;`,
      ],
      { ready: () => tcpPortOpen('127.0.0.1', port), readyTimeoutMs: 10_000, listens: { port } },
    );
    t.after(() => program.stop());
    return { port, url: `http://127.0.0.1:${port}/`, program };
  });
}
