import '../support/hermetic.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { commandHelp } from '@tork/cli';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const tork = join(root, 'packages/cli/dist/main.js');
const sample = join(root, 'examples/sample.torrent');

function run(args: string[]) {
  const result = spawnSync(process.execPath, [tork, ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Asserts `text` is `name`'s help: its usage line first, then a described line with a default for every option. */
function checkHelp(name: string, text: string, label: string): void {
  const command = commandHelp[name]!;
  assert.equal(text.split('\n')[0], command.usage, `${label}: starts with the usage line`);
  const optionLines = text.split('\n').filter((line) => /^ {2}-/.test(line));
  const named = optionLines.map((line) => /--([a-z0-9-]+)/.exec(line)?.[1]);
  // Every option the command's parseArgs object has, and -h/--help: no more, no fewer.
  assert.deepEqual(
    [...named].sort(),
    [...Object.keys(command.options), 'help'].sort(),
    `${label}: one line per option`,
  );
  for (const [option, spec] of Object.entries(command.options)) {
    const short = spec.short ? `-${spec.short}, ` : '';
    const line = new RegExp(
      `^ {2}${literal(short)}--${literal(option)}( \\S+)? {2,}\\S.*\\[(default: [^\\]]+|required)\\]$`,
    );
    assert.ok(
      optionLines.some((l) => line.test(l)),
      `${label}: --${option} has a description and a default:\n${text}`,
    );
  }
}

describe('tork COMMAND --help', () => {
  const names = Object.keys(commandHelp);

  it('covers every command tork --help lists', () => {
    assert.deepEqual(names, [
      'download',
      'seed',
      'stream',
      'daemon',
      'remote',
      'demo',
      'info',
      'create',
      'bench',
      'trace-summary',
    ]);
    const { status, stdout } = run(['--help']);
    assert.equal(status, 0);
    for (const name of names)
      assert.ok(stdout.includes(commandHelp[name]!.usage.replace('usage: ', '')), name);
  });

  for (const name of Object.keys(commandHelp)) {
    it(`${name} --help and -h print every option with its default and exit 0`, () => {
      for (const flag of ['--help', '-h']) {
        const { status, stdout, stderr } = run([name, flag]);
        assert.equal(status, 0, `${name} ${flag}: ${stderr}`);
        assert.equal(stderr, '', `${name} ${flag}: nothing on stderr`);
        checkHelp(name, stdout, `${name} ${flag}`);
      }
    });
  }

  it('help wins wherever it stands, over bad options, and starts nothing', (t) => {
    const work = mkdtempSync(join(tmpdir(), 'tork-help-test-'));
    t.after(() => rmSync(work, { recursive: true, force: true }));
    const out = join(work, 'out');
    // Each would start work and write `out` (or read a cache there) without the help flag.
    const cases: Array<[string, string[]]> = [
      ['download', [sample, '--out', out, '--port', '0', '--help']],
      ['download', ['--bogus', sample, '-h', '--out', out]],
      ['download', [sample, '-qh', '--out', out]],
      ['download', [sample, '--out', '--help']],
      ['seed', [sample, '--data', out, '--port', '0', '-h']],
      ['demo', ['--size', '1MiB', '--cache', out, '--help']],
      ['bench', ['--size', '1MiB', '--runs', '1', '--cache', out, '-h']],
      ['bench', ['--size', 'not-a-size', '--help']],
      ['create', [root, '--announce', 'http://127.0.0.1/a', '-o', out, '--help']],
      ['info', [sample, '--json', '--help']],
    ];
    for (const [name, args] of cases) {
      const label = `${name} ${args.join(' ')}`;
      const { status, stdout, stderr } = run([name, ...args]);
      assert.equal(status, 0, `${label}: ${stderr}`);
      assert.equal(stderr, '', `${label}: nothing on stderr`);
      checkHelp(name, stdout, label);
      assert.equal(existsSync(out), false, `${label}: nothing written`);
    }
  });

  it('after --, --help is an argument, not a request for help', () => {
    const { status, stdout, stderr } = run(['info', '--', '--help']);
    assert.equal(status, 2);
    assert.equal(stdout, '');
    assert.match(stderr, /cannot read --help/);
  });

  it('tork help, --help and -h still print the command list; bare tork exits 2', () => {
    for (const flag of ['help', '--help', '-h']) {
      const { status, stdout, stderr } = run([flag]);
      assert.equal(status, 0, flag);
      assert.equal(stderr, '');
      assert.match(stdout, /^tork: a BitTorrent client/);
      assert.match(stdout, /tork COMMAND --help/);
      for (const name of names) assert.ok(stdout.includes(`\n  tork ${name} `), name);
    }
    const bare = run([]);
    assert.equal(bare.status, 2);
    assert.equal(bare.stdout, '');
    assert.match(bare.stderr, /^tork: a BitTorrent client/);
  });

  it('seed refuses download-only options by name', () => {
    const out = run(['seed', sample, '--data', tmpdir(), '--out', tmpdir()]);
    assert.equal(out.status, 2);
    assert.match(out.stderr, /tork seed takes --data DIR, not --out/);
    const seed = run(['seed', sample, '--data', tmpdir(), '--seed']);
    assert.equal(seed.status, 2);
    assert.match(seed.stderr, /--seed is for download/);
  });
});

describe('tork loads only the command it runs', () => {
  /** The tork modules (files under packages/) `tork ARGS` loaded, from a resolve hook's log. */
  function modulesLoadedBy(args: string[], work: string): string[] {
    const log = join(work, `${args[0]}.log`);
    const hooks = join(work, 'hooks.mjs');
    writeFileSync(
      hooks,
      `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  if (result.url.includes('/packages/')) appendFileSync(process.env.TORK_TEST_MODULE_LOG, result.url + '\\n');
  return result;
}`,
    );
    const register = join(work, 'register.mjs');
    writeFileSync(
      register,
      `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`,
    );
    const result = spawnSync(process.execPath, ['--import', pathToFileURL(register).href, tork, ...args], {
      cwd: root,
      encoding: 'utf8',
      timeout: 20_000,
      env: { ...process.env, TORK_TEST_MODULE_LOG: log },
    });
    assert.equal(result.status, 0, `tork ${args.join(' ')}: ${result.stderr}`);
    return [...new Set(readFileSync(log, 'utf8').split('\n').filter(Boolean))];
  }

  /** Bytes of tork code (files under packages/) a command line loaded. */
  const bytesOf = (urls: string[]) => urls.reduce((sum, url) => sum + statSync(fileURLToPath(url)).size, 0);

  it('--version loads no command, info not the others (each command a chunk of its own)', (t) => {
    const work = mkdtempSync(join(tmpdir(), 'tork-lazy-test-'));
    t.after(() => rmSync(work, { recursive: true, force: true }));
    const version = bytesOf(modulesLoadedBy(['--version'], work));
    const info = bytesOf(modulesLoadedBy(['info', sample], work));
    // --help loads every command's module, for its help text.
    const everything = bytesOf(modulesLoadedBy(['--help'], work));
    // Measured: 7.5 KB, 0.93 MB and 1.35 MB (with the bundle); the unbundled fallback loads more
    // files of the same code.
    assert.ok(version < 64 * 1024, `--version loaded ${version} bytes of tork code`);
    assert.ok(info < everything * 0.8, `info loaded ${info} bytes, every command ${everything}`);
  });
});
