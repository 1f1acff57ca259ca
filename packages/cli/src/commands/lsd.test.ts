import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExitCode } from '../io.js';
import { runDownload, runSeed } from './download.js';
import { lsdEnabled } from './lsd.js';

describe('local service discovery in tork download / seed', () => {
  it('runs for public torrents unless --no-lsd; under TORK_HERMETIC=1 only with --lsd; never for private ones', () => {
    const plain = { lsd: false, noLsd: false };
    const on = { lsd: true, noLsd: false };
    const off = { lsd: false, noLsd: true };
    const hermetic = { TORK_HERMETIC: '1' };
    assert.equal(lsdEnabled(plain, false, {}), true);
    assert.equal(lsdEnabled(plain, false, { TORK_HERMETIC: '0' }), true);
    assert.equal(lsdEnabled(off, false, {}), false);
    assert.equal(lsdEnabled(plain, false, hermetic), false);
    assert.equal(lsdEnabled(on, false, hermetic), true);
    assert.equal(lsdEnabled(off, false, hermetic), false);
    for (const flags of [plain, on, off]) {
      assert.equal(lsdEnabled(flags, true, {}), false, 'BEP 27: a private torrent never uses LSD');
    }
  });

  it('refuses --lsd with --no-lsd before starting anything', async () => {
    for (const [run, dirFlag] of [
      [runDownload, '--out'],
      [runSeed, '--data'],
    ] as const) {
      let stderr = '';
      const status = await run(['no-such.torrent', dirFlag, 'nowhere', '--lsd', '--no-lsd'], {
        stdout: () => {},
        stderr: (text) => {
          stderr += text;
        },
      });
      assert.equal(status, ExitCode.BAD_INPUT);
      assert.match(stderr, /--lsd and --no-lsd contradict/);
    }
  });
});
