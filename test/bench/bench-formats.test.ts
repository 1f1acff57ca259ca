/**
 * `tork bench --format v1,v2,hybrid`: the same data set as three torrents (v2 and hybrid by `tork
 * create`), seeded by one libtorrent farm, downloaded by tork and libtorrent format by format in
 * the same run, every byte verified. Behaviour and counts, not speed.
 */
import '../support/hermetic.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { requireLibtorrentPython } from '../download/support.js';
import { bench, runBench } from './support.js';

const SIZE = 4 << 20;

describe('tork bench --format', { timeout: 120_000 }, () => {
  it('v1,v2,hybrid: every format downloaded and verified by tork and libtorrent, a result each', async (t) => {
    const python = await requireLibtorrentPython(t);
    if (!python) return;
    const { status, report, stderr } = await runBench(t, [
      '--size',
      String(SIZE),
      '--files',
      '5',
      '--piece-size',
      '256KiB',
      '--peers',
      '2',
      '--runs',
      '1',
      '--seeders',
      'libtorrent',
      '--compare',
      'libtorrent',
      '--format',
      'v1,v2,hybrid',
      '--json',
    ]);
    assert.equal(status, 0, stderr);
    assert.equal(report.ok, true, stderr);
    assert.deepEqual((report.params as { formats: string[] }).formats, ['v1', 'v2', 'hybrid']);

    // Formats take turns within the run; within a format, tork then libtorrent.
    const runs = report.runs as Array<Record<string, unknown>>;
    assert.deepEqual(
      runs.map((run) => [run.client, run.format, run.group]),
      ['v1', 'v2', 'hybrid'].flatMap((format) => [
        ['tork', format, `tork@libtorrent format=${format}`],
        ['libtorrent', format, `libtorrent@libtorrent format=${format}`],
      ]),
    );
    for (const run of runs) {
      assert.equal(run.verified, true, `${run.group}: every byte verified`);
      assert.equal(run.exitStatus, 0, `${run.group}`);
      for (const figure of ['wallSeconds', 'mbPerSecond', 'cpuSeconds', 'cpuSecondsPerGiB', 'peakRssMiB'])
        assert.ok((run[figure] as number) > 0, `${run.group}.${figure} = ${run[figure]}`);
      // Two seeders of one farm served it: together at least the data set.
      const uploaded = run.seederUploadedBytes as number[];
      assert.equal(uploaded.length, 2);
      assert.ok(
        uploaded.reduce((a, b) => a + b, 0) >= SIZE,
        `${run.group}: seeders uploaded ${uploaded.join('+')} bytes`,
      );
      assert.ok((run.downloaderReceivedBytes as number) >= SIZE, `${run.group}: received`);
    }

    // The three torrents: same data, different info-hashes; the hybrid's v1 list has pad files.
    const torrents = (report.dataset as { torrents: Array<Record<string, unknown>> }).torrents;
    assert.deepEqual(
      torrents.map((x) => x.format),
      ['v1', 'v2', 'hybrid'],
    );
    const [v1, v2, hybrid] = torrents as [
      Record<string, unknown>,
      Record<string, unknown>,
      Record<string, unknown>,
    ];
    assert.equal(v1.infoHashV2, null);
    assert.equal(v1.padFiles, 0);
    assert.equal(v1.layoutBytes, SIZE);
    assert.match(v2.infoHashV2 as string, /^[0-9a-f]{64}$/);
    assert.equal(v2.infoHash, (v2.infoHashV2 as string).slice(0, 40), 'v2-only: the truncated v2 hash');
    assert.match(hybrid.infoHashV2 as string, /^[0-9a-f]{64}$/);
    assert.notEqual(hybrid.infoHash, (hybrid.infoHashV2 as string).slice(0, 40), 'hybrid: a SHA-1 info-hash');
    assert.equal(new Set(torrents.map((x) => x.infoHash)).size, 3);
    for (const x of [v2, hybrid]) {
      assert.ok((x.padFiles as number) > 0 && (x.padBytes as number) > 0, `${x.format}: pads`);
      assert.equal(x.layoutBytes, SIZE + (x.padBytes as number));
    }

    // One median per client and format; each v2 and hybrid group set against its client's v1.
    const medians = report.medians as Array<Record<string, unknown>>;
    assert.deepEqual(
      medians.map((m) => [m.group, m.format, m.runs]),
      runs.map((run) => [run.group, run.format, 1]),
    );
    const formatRatios = report.formatRatios as Array<Record<string, unknown>>;
    assert.deepEqual(
      formatRatios.map((r) => [r.group, r.v1]),
      [
        ['tork@libtorrent format=v2', 'tork@libtorrent format=v1'],
        ['libtorrent@libtorrent format=v2', 'libtorrent@libtorrent format=v1'],
        ['tork@libtorrent format=hybrid', 'tork@libtorrent format=v1'],
        ['libtorrent@libtorrent format=hybrid', 'libtorrent@libtorrent format=v1'],
      ],
    );
    for (const ratio of formatRatios) assert.ok((ratio.cpuSecondsPerGiB as number) > 0);
    const ratios = report.ratios as Array<Record<string, unknown>>;
    assert.deepEqual(
      ratios.map((r) => r.other),
      ['v1', 'v2', 'hybrid'].map((format) => `libtorrent@libtorrent format=${format}`),
    );
  });

  it('refuses what it cannot run, with one reason and exit 2', async (t) => {
    for (const [args, reason] of [
      [['--format', 'v3'], /--format takes v1, v2, hybrid/],
      [['--format', 'v1,v1'], /--format takes v1, v2, hybrid/],
      [['--format', ''], /--format takes v1, v2, hybrid/],
      [['--format', 'v1,hybrid'], /a tork seeder seeds one torrent/],
      [
        ['--format', 'hybrid', '--seeders', 'libtorrent', '--compare', 'aria2c'],
        /aria2c does not speak BitTorrent v2/,
      ],
      [['--format', 'v2', '--seeders', 'libtorrent', '--piece-size', '48KiB'], /power-of-two --piece-size/],
    ] as const) {
      const { status, stdout, stderr } = await bench(t, [...args, '--runs', '1']);
      assert.equal(status, 2, `${args.join(' ')}: ${stderr}`);
      assert.equal(stdout, '');
      assert.match(stderr, reason, args.join(' '));
    }
  });
});
