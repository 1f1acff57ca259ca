/**
 * Transmission (`transmission-cli` 3.00) against tork, both ways, on the interop data set. It never
 * dials a 127.0.0.0/8 peer learnt from a tracker, so tork dials it (`--peer`); it never creates
 * zero-length files of a multi-file torrent, so those are left out of its comparison. Its rate
 * from tork is bounded by the `reqq` tork advertises (it keeps at most that many requests out and
 * tops them up every ~2.5 s): 500 held it at 8 MB/s. With encryption required on Transmission's
 * side, both directions run over RC4 (tork's MSE as initiator against Transmission's responder).
 */
import '../support/hermetic.js';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Dataset } from '@tork/cli';
import { interopDataset, runTork } from '../download/support.js';
import { startTork } from '../seed/support.js';
import { requireProgram } from '../support/programs.js';
import { compareTrees, linkTree, startTransmission, TRANSMISSION_ADDRESS } from './support.js';

const TIMEOUT_MS = 120_000;

describe('Transmission and tork', { timeout: 300_000 }, () => {
  let work: string;
  let dataset: Dataset;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'tork-transmission-'));
    dataset = await interopDataset('transmission');
  });
  after(() => rm(work, { recursive: true, force: true }));

  it('Transmission downloads from a tork seeder that dials it, byte-identical (but for zero-length files)', async (t) => {
    const bin = requireProgram(t, 'transmission-cli', 'transmission-cli');
    if (!bin) return;
    const trWork = join(work, 'tr-leech');
    const transmission = await startTransmission(bin, trWork, dataset.torrentPath, join(trWork, 'data'));
    t.after(() => transmission.stop());
    const seedData = join(work, 'tork-seed');
    await linkTree(dataset.dataDir, seedData);
    const started = Date.now();
    const seeder = await startTork('seed', [
      dataset.torrentPath,
      '--data',
      seedData,
      '--no-trackers',
      '--peer',
      `${TRANSMISSION_ADDRESS}:${transmission.port}`,
    ]);
    t.after(() => seeder.stop());
    await transmission.waitFinished(TIMEOUT_MS);
    const seconds = (Date.now() - started) / 1000;
    t.diagnostic(
      `Transmission from tork: ${(dataset.length / seconds / 1e6).toFixed(1)} MB/s, from the seeder's start`,
    );
    const problems = await compareTrees(
      join(dataset.dataDir, dataset.name),
      join(trWork, 'data', dataset.name),
      {
        allowMissingEmpty: true,
      },
    );
    assert.deepEqual(problems, [], seeder.transcript());
    await seeder.stop();
    const stopped = seeder.events.find((event) => event.event === 'stopped');
    assert.ok(stopped && (stopped.uploadedBytes as number) >= dataset.length, seeder.transcript());
  });

  it('tork downloads from a Transmission seeder, byte-identical', async (t) => {
    const bin = requireProgram(t, 'transmission-cli', 'transmission-cli');
    if (!bin) return;
    const trWork = join(work, 'tr-seed');
    await linkTree(dataset.dataDir, join(trWork, 'data'));
    const transmission = await startTransmission(bin, trWork, dataset.torrentPath, join(trWork, 'data'));
    t.after(() => transmission.stop());
    const out = join(work, 'tork-out');
    const run = await runTork(
      [
        dataset.torrentPath,
        '--out',
        out,
        '--no-trackers',
        '--peer',
        `${TRANSMISSION_ADDRESS}:${transmission.port}`,
        '--port',
        '0',
        '--listen-host',
        '127.0.0.1',
      ],
      { timeoutMs: TIMEOUT_MS },
    );
    assert.equal(run.status, 0, `${run.stderr}\n${transmission.output()}`);
    assert.deepEqual(await compareTrees(join(dataset.dataDir, dataset.name), join(out, dataset.name)), []);
    const done = run.events.find((event) => event.event === 'done')!;
    t.diagnostic(
      `tork from Transmission: ${((done.length as number) / ((done.elapsedMs as number) / 1000) / 1e6).toFixed(1)} MB/s`,
    );
  });
  it('with encryption required by Transmission, both ways: RC4, byte-identical', async (t) => {
    const bin = requireProgram(t, 'transmission-cli', 'transmission-cli');
    if (!bin) return;
    // Transmission seeds, requiring encryption; tork dials it (prefer: MSE first).
    const seedWork = join(work, 'tr-seed-enc');
    await linkTree(dataset.dataDir, join(seedWork, 'data'));
    const trSeeder = await startTransmission(bin, seedWork, dataset.torrentPath, join(seedWork, 'data'), 2);
    t.after(() => trSeeder.stop());
    const out = join(work, 'tork-out-enc');
    const run = await runTork(
      [
        dataset.torrentPath,
        '--out',
        out,
        '--no-trackers',
        '--peer',
        `${TRANSMISSION_ADDRESS}:${trSeeder.port}`,
        '--port',
        '0',
        '--listen-host',
        '127.0.0.1',
      ],
      { timeoutMs: TIMEOUT_MS },
    );
    assert.equal(run.status, 0, `${run.stderr}\n${trSeeder.output()}`);
    assert.deepEqual(await compareTrees(join(dataset.dataDir, dataset.name), join(out, dataset.name)), []);
    const connected = run.events.filter((event) => event.event === 'peer-connected');
    assert.ok(connected.length > 0);
    for (const event of connected) assert.equal(event.encryption, 'rc4', JSON.stringify(event));
    await trSeeder.stop();

    // Transmission downloads, requiring encryption; a tork seeder (require) dials it.
    const leechWork = join(work, 'tr-leech-enc');
    const trLeecher = await startTransmission(
      bin,
      leechWork,
      dataset.torrentPath,
      join(leechWork, 'data'),
      2,
    );
    t.after(() => trLeecher.stop());
    const seedData = join(work, 'tork-seed-enc');
    await linkTree(dataset.dataDir, seedData);
    const seeder = await startTork('seed', [
      dataset.torrentPath,
      '--data',
      seedData,
      '--no-trackers',
      '--encryption',
      'require',
      '--peer',
      `${TRANSMISSION_ADDRESS}:${trLeecher.port}`,
    ]);
    t.after(() => seeder.stop());
    await trLeecher.waitFinished(TIMEOUT_MS);
    const problems = await compareTrees(
      join(dataset.dataDir, dataset.name),
      join(leechWork, 'data', dataset.name),
      {
        allowMissingEmpty: true,
      },
    );
    assert.deepEqual(problems, [], seeder.transcript());
    const served = seeder.events.filter((event) => event.event === 'peer-connected');
    assert.ok(
      served.length > 0 && served.every((event) => event.encryption === 'rc4'),
      JSON.stringify(served),
    );
  });
  it('over uTP only, both ways (Transmission with libutp): byte-identical, tork says utp', async (t) => {
    const bin = requireProgram(t, 'transmission-cli', 'transmission-cli');
    if (!bin) return;
    // Transmission seeds with uTP on; tork dials it over uTP only.
    const seedWork = join(work, 'tr-seed-utp');
    await linkTree(dataset.dataDir, join(seedWork, 'data'));
    const trSeeder = await startTransmission(
      bin,
      seedWork,
      dataset.torrentPath,
      join(seedWork, 'data'),
      1,
      true,
    );
    t.after(() => trSeeder.stop());
    const out = join(work, 'tork-out-utp');
    const run = await runTork(
      [
        dataset.torrentPath,
        '--out',
        out,
        '--no-trackers',
        '--transport',
        'utp',
        '--peer',
        `${TRANSMISSION_ADDRESS}:${trSeeder.port}`,
        '--port',
        '0',
        '--listen-host',
        '127.0.0.1',
      ],
      { timeoutMs: TIMEOUT_MS },
    );
    assert.equal(run.status, 0, `${run.stderr}\n${trSeeder.output()}`);
    assert.deepEqual(await compareTrees(join(dataset.dataDir, dataset.name), join(out, dataset.name)), []);
    const connected = run.events.filter((event) => event.event === 'peer-connected');
    assert.ok(connected.length > 0);
    for (const event of connected) assert.equal(event.transport, 'utp', JSON.stringify(event));
    const done = run.events.find((event) => event.event === 'done')!;
    t.diagnostic(
      `tork from Transmission over uTP: ${((done.length as number) / ((done.elapsedMs as number) / 1000) / 1e6).toFixed(1)} MB/s`,
    );
    await trSeeder.stop();

    // Transmission downloads with uTP on; a tork seeder dials it over uTP only.
    const leechWork = join(work, 'tr-leech-utp');
    const trLeecher = await startTransmission(
      bin,
      leechWork,
      dataset.torrentPath,
      join(leechWork, 'data'),
      1,
      true,
    );
    t.after(() => trLeecher.stop());
    const seedData = join(work, 'tork-seed-utp');
    await linkTree(dataset.dataDir, seedData);
    const seeder = await startTork('seed', [
      dataset.torrentPath,
      '--data',
      seedData,
      '--no-trackers',
      '--transport',
      'utp',
      '--peer',
      `${TRANSMISSION_ADDRESS}:${trLeecher.port}`,
    ]);
    t.after(() => seeder.stop());
    await trLeecher.waitFinished(TIMEOUT_MS);
    const problems = await compareTrees(
      join(dataset.dataDir, dataset.name),
      join(leechWork, 'data', dataset.name),
      {
        allowMissingEmpty: true,
      },
    );
    assert.deepEqual(problems, [], seeder.transcript());
    const served = seeder.events.filter((event) => event.event === 'peer-connected');
    assert.ok(
      served.length > 0 && served.every((event) => event.transport === 'utp'),
      JSON.stringify(served),
    );
  });
});
