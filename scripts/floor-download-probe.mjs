// What the least a fresh Node process pays to download a torrent costs, beside tork and libtorrent
// (issue 17).
//
//   node scripts/floor-download-probe.mjs [--size 256MiB] [--files 40] [--piece-size 16KiB]
//       [--seeders 8] [--runs 3] [--writes sync,callback,filehandle] [--cache DIR]
//
// The "floor" is this file run with `--client`: one thread, no scheduler, no resume journal, no
// limits, no hostile-input checks: handshake, interested, 64 requests in flight per peer, pieces
// taken in order from one counter, SHA-1 (`crypto.hash`), and the piece written at its place in
// calls of at most 32 KiB (tork's MAX_WRITE_CALL_BYTES), by one of three write paths:
// - sync: `fs.writeSync` on the event loop (what aria2c does: no thread hop);
// - callback: `fs.write` through libuv's thread pool;
// - filehandle: `FileHandle.write` (promises), the API tork's disk writer uses.
// Two more modes hold tork's fixed shape at its least (issue 17's question: is the 16 KiB target
// out of reach for two isolates?): `split` runs the peers, block assembly and SHA-1 in a worker
// thread, which posts each event-loop turn's verified pieces (buffers transferred) to the main
// thread, which writes them with `fs.writeSync`; `split-zod` also checks each batch on arrival with
// a zod schema compiled once (`z.compile`), as every tork message is checked.
// It is a yardstick, not a client: it trusts its peers. Each run starts every downloader as a fresh
// process, as `tork bench` does, from one libtorrent farm on 127.0.0.1 (peers given directly: no
// tracker, DHT, LSD or uTP), in turn: each floor variant, `tork download`, libtorrent. CPU is the
// whole process's (rusage.py: os.wait4), start-up included; every download is compared with the
// data set byte for byte before it counts.
//
// Not part of the tests: figures go to docs/performance.md with the command that produced them.
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const CALL_BYTES = 32 * 1024;
const BLOCK = 16 * 1024;
const IN_FLIGHT = 64;

const MODES = ['sync', 'callback', 'filehandle', 'split', 'split-zod'];

if (!isMainThread) peerThread(workerData);
else if (process.argv[2] === '--client') await client(process.argv.slice(3));
else await probe();

/** The floor downloader: `--client MODE TORRENT OUT_DIR HOST:PORT...`; exits 0 once every piece is written. */
async function client([mode, torrentPath, outDir, ...peers]) {
  const meta = readTorrent(fs.readFileSync(torrentPath));
  const files = [];
  for (const file of meta.files) {
    const path = join(outDir, ...file.path);
    fs.mkdirSync(dirname(path), { recursive: true });
    const fd = fs.openSync(path, 'w');
    const handle = mode === 'filehandle' ? await fs.promises.open(path, 'r+') : null;
    files.push({ start: file.offset, length: file.length, fd, handle });
  }
  const count = meta.pieceCount;
  let verified = 0;
  let writing = 0;
  const end = () => {
    if (verified === count && writing === 0) process.exit(0);
  };
  const written = (error) => {
    if (error) throw error;
    writing--;
    end();
  };
  const write = (fd, handle, bytes, at, length, position) => {
    if (mode === 'sync' || mode.startsWith('split')) fs.writeSync(fd, bytes, at, length, position);
    else if (mode === 'callback') {
      writing++;
      fs.write(fd, bytes, at, length, position, written);
    } else {
      writing++;
      handle.write(bytes, at, length, position).then(() => written(), written);
    }
  };
  const writePiece = (index, bytes) => {
    let position = index * meta.pieceLength;
    let at = 0;
    for (const file of files) {
      if (at === bytes.length) break;
      if (position < file.start || position >= file.start + file.length) continue;
      const length = Math.min(bytes.length - at, file.start + file.length - position);
      for (let done = 0; done < length; done += CALL_BYTES) {
        const take = Math.min(CALL_BYTES, length - done);
        write(file.fd, file.handle, bytes, at + done, take, position - file.start + done);
      }
      position += length;
      at += length;
    }
  };
  if (mode === 'split' || mode === 'split-zod') {
    // The coordinator's part: write what the peer thread verified, nothing else.
    let parse = (batch) => batch;
    if (mode === 'split-zod') {
      // zod from the workspace (the scripts folder has no node_modules of its own).
      const z = await import(
        pathToFileURL(createRequire(join(root, 'packages/core/package.json')).resolve('zod'))
      );
      const Batch = z.compile(
        z.object({
          pieces: z.array(
            z.object({ index: z.number().int().nonnegative(), bytes: z.instanceof(Uint8Array) }),
          ),
        }),
      );
      parse = (batch) => Batch.parse(batch);
    }
    const worker = new Worker(new URL(import.meta.url), { workerData: { torrentPath, peers } });
    worker.on('error', (error) => {
      throw error;
    });
    worker.on('message', (message) => {
      for (const { index, bytes } of parse(message).pieces) {
        writePiece(index, bytes);
        verified++;
      }
      if (verified === count) process.exit(0);
    });
    return;
  }
  connectPeers(
    meta,
    peers,
    (index, bytes) => {
      writePiece(index, bytes);
      verified++;
    },
    end,
  );
}

/** The peer thread of the split modes: every peer, assembly and SHA-1; posts a batch per turn. */
function peerThread({ torrentPath, peers }) {
  const meta = readTorrent(fs.readFileSync(torrentPath));
  let batch = [];
  const flush = () => {
    const pieces = batch;
    batch = [];
    parentPort.postMessage(
      { pieces },
      pieces.map((piece) => piece.bytes.buffer),
    );
  };
  connectPeers(
    meta,
    peers,
    (index, bytes) => {
      if (batch.length === 0) setImmediate(flush);
      batch.push({ index, bytes });
    },
    () => {},
  );
}

/** Dials every peer and downloads: `verifiedPiece(index, bytes)` for each piece whose SHA-1 matched. */
function connectPeers(meta, peers, verifiedPiece, end) {
  const count = meta.pieceCount;
  const sizeOf = meta.pieceSize;
  let next = 0;
  const retry = [];
  const handshake = Buffer.concat([
    Buffer.from([19]),
    Buffer.from('BitTorrent protocol'),
    Buffer.alloc(8),
    meta.infoHash,
    Buffer.from('-FL0001-000000000000'),
  ]);
  for (const peer of peers) {
    const colon = peer.lastIndexOf(':');
    const socket = net.connect({ host: peer.slice(0, colon), port: Number(peer.slice(colon + 1)) });
    socket.setNoDelay(true);
    socket.write(handshake);
    socket.write(Buffer.from([0, 0, 0, 1, 2])); // interested
    let input = Buffer.alloc(0);
    let handshaken = false;
    let unchoked = false;
    let requested = 0;
    const mine = new Set();
    const assembling = new Map();
    const fill = () => {
      if (!unchoked) return;
      const requests = [];
      while (requested < IN_FLIGHT) {
        const index = retry.length > 0 ? retry.pop() : next < count ? next++ : -1;
        if (index < 0) break;
        mine.add(index);
        const size = sizeOf(index);
        for (let begin = 0; begin < size; begin += BLOCK) {
          const request = Buffer.allocUnsafe(17);
          request.writeUInt32BE(13, 0);
          request[4] = 6;
          request.writeUInt32BE(index, 5);
          request.writeUInt32BE(begin, 9);
          request.writeUInt32BE(Math.min(BLOCK, size - begin), 13);
          requests.push(request);
          requested++;
        }
      }
      if (requests.length > 0) socket.write(Buffer.concat(requests));
    };
    socket.on('data', (chunk) => {
      input = input.length > 0 ? Buffer.concat([input, chunk]) : chunk;
      let at = 0;
      if (!handshaken) {
        if (input.length < 68) return;
        handshaken = true;
        at = 68;
      }
      while (input.length - at >= 4) {
        const length = input.readUInt32BE(at);
        if (input.length - at - 4 < length) break;
        const id = length > 0 ? input[at + 4] : -1;
        if (id === 0) unchoked = false;
        else if (id === 1) unchoked = true;
        else if (id === 7) {
          const index = input.readUInt32BE(at + 5);
          const begin = input.readUInt32BE(at + 9);
          let piece = assembling.get(index);
          if (piece === undefined) {
            piece = { bytes: Buffer.allocUnsafe(sizeOf(index)), got: 0 };
            assembling.set(index, piece);
          }
          piece.got += input.copy(piece.bytes, begin, at + 13, at + 4 + length);
          requested--;
          if (piece.got === piece.bytes.length) {
            assembling.delete(index);
            mine.delete(index);
            const expected = meta.pieceHash(index);
            if (!crypto.hash('sha1', piece.bytes, 'buffer').equals(expected)) retry.push(index);
            else verifiedPiece(index, piece.bytes);
          }
        }
        at += 4 + length;
      }
      input = at === input.length ? Buffer.alloc(0) : input.subarray(at);
      fill();
      end();
    });
    socket.on('error', () => {});
    socket.on('close', () => retry.push(...mine));
  }
}

async function probe() {
  // Loaded here, not at the top: the client mode (a fresh process measured whole) must not pay them.
  const { LIBTORRENT_SETTINGS, probeDataset, startFarm, swarmOptions } = await import('./probe-swarm.mjs');
  const { values } = parseArgs({
    options: {
      ...swarmOptions,
      runs: { type: 'string', default: '3' },
      writes: { type: 'string', default: 'sync,callback,filehandle' },
    },
  });
  const runs = Number(values.runs);
  const seeders = Number(values.seeders);
  const writes = values.writes.split(',');
  if (!(runs >= 1 && runs <= 50 && seeders >= 1 && seeders <= 64))
    throw new Error('--runs 1..50, --seeders 1..64');
  for (const mode of writes)
    if (!MODES.includes(mode)) throw new Error(`--writes: ${mode}? (${MODES.join(', ')})`);
  const dataset = await probeDataset(values);
  const meta = readTorrent(await readFile(dataset.torrentPath));
  const work = join(tmpdir(), `tork-floor-probe-${process.pid}`);
  const python = join(root, 'packages/cli/python');
  const farm = await startFarm(values.python, dataset, seeders);
  const peers = farm.ports.map((port) => `127.0.0.1:${port}`);

  const LIBTORRENT = `
import sys, time, libtorrent as lt
torrent, save = sys.argv[1], sys.argv[2]
s = lt.session(${LIBTORRENT_SETTINGS})
p = lt.add_torrent_params(); p.ti = lt.torrent_info(torrent); p.save_path = save
h = s.add_torrent(p)
for peer in sys.argv[3:]:
    host, port = peer.rsplit(':', 1); h.connect_peer((host, int(port)))
t0 = time.time()
while not h.status().is_seeding:
    if time.time() - t0 > 600: sys.exit(1)
    time.sleep(0.01)
`;
  const script = fileURLToPath(import.meta.url);
  const tork = join(root, 'packages/cli/dist/main.js');
  const clients = [
    ...writes.map((mode) => ({
      name: `floor (${mode})`,
      argv: (out) => [process.execPath, script, '--client', mode, dataset.torrentPath, out, ...peers],
    })),
    {
      name: 'tork',
      argv: (out) => [
        process.execPath,
        tork,
        'download',
        dataset.torrentPath,
        '--out',
        out,
        ...peers.flatMap((peer) => ['--peer', peer]),
        '--no-trackers',
        '--no-dht',
        '--no-lsd',
        '--port',
        '0',
        '--listen-host',
        '127.0.0.1',
        '--quiet',
      ],
    },
    {
      name: 'libtorrent',
      argv: (out) => [values.python, '-c', LIBTORRENT, dataset.torrentPath, out, ...peers],
    },
  ];
  const results = new Map(clients.map((c) => [c.name, []]));
  try {
    for (let run = 1; run <= runs; run++) {
      for (const c of clients) {
        const out = join(work, 'out');
        await rm(out, { recursive: true, force: true });
        await mkdir(out, { recursive: true });
        const usage = await measured(values.python, join(python, 'rusage.py'), c.argv(out));
        if (usage.status !== 0) throw new Error(`${c.name} exited with ${usage.status}`);
        await sameAs(join(out, meta.name), join(dataset.dataDir, meta.name));
        const cpu = usage.user + usage.sys;
        results.get(c.name).push({ wall: usage.wall, cpu, maxRssKiB: usage.maxrssKiB });
        console.log(
          `run ${run} ${c.name}: ${(meta.length / 1e6 / usage.wall).toFixed(1)} MB/s, ${cpu.toFixed(2)} CPU s ` +
            `(${(cpu / (meta.length / 2 ** 30)).toFixed(2)} s/GiB), ${Math.round(usage.maxrssKiB / 1024)} MiB`,
        );
      }
    }
  } finally {
    farm.child.kill('SIGTERM');
    await rm(work, { recursive: true, force: true });
  }
  const median = (list) => {
    const sorted = [...list].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  };
  const summary = {};
  for (const [name, list] of results)
    summary[name] = {
      mbPerSecond: Number((meta.length / 1e6 / median(list.map((r) => r.wall))).toFixed(1)),
      cpuSecondsPerGiB: Number((median(list.map((r) => r.cpu)) / (meta.length / 2 ** 30)).toFixed(2)),
      maxRssMiB: Math.round(median(list.map((r) => r.maxRssKiB)) / 1024),
    };
  console.log(
    JSON.stringify({
      dataset: dataset.name,
      seeders,
      runs,
      node: process.version,
      medians: summary,
      results: Object.fromEntries(results),
    }),
  );
}

/**
 * The little of a v1 .torrent the floor needs, from a minimal bencode reader: the probe's own data
 * set is trusted input (tork's parser is not used: importing it is start-up the floor should not pay).
 */
function readTorrent(bytes) {
  let at = 0;
  let infoStart = -1;
  let infoEnd = -1;
  const value = (depth) => {
    const c = bytes[at];
    if (c === 0x69) {
      const e = bytes.indexOf(0x65, at);
      const n = Number(bytes.toString('latin1', at + 1, e));
      at = e + 1;
      return n;
    }
    if (c === 0x6c) {
      at++;
      const list = [];
      while (bytes[at] !== 0x65) list.push(value(depth + 1));
      at++;
      return list;
    }
    if (c === 0x64) {
      at++;
      const dict = {};
      while (bytes[at] !== 0x65) {
        const key = value(depth + 1).toString('latin1');
        if (depth === 0 && key === 'info') infoStart = at;
        dict[key] = value(depth + 1);
        if (depth === 0 && key === 'info') infoEnd = at;
      }
      at++;
      return dict;
    }
    const colon = bytes.indexOf(0x3a, at);
    const length = Number(bytes.toString('latin1', at, colon));
    at = colon + 1 + length;
    return bytes.subarray(colon + 1, at);
  };
  const torrent = value(0);
  const info = torrent.info;
  const name = info.name.toString();
  const pieceLength = info['piece length'];
  const pieces = info.pieces;
  let offset = 0;
  const files = [];
  for (const file of info.files ?? [{ length: info.length, path: [] }]) {
    files.push({ path: [name, ...file.path.map((part) => part.toString())], offset, length: file.length });
    offset += file.length;
  }
  return {
    name,
    infoHash: crypto.createHash('sha1').update(bytes.subarray(infoStart, infoEnd)).digest(),
    pieceLength,
    pieceCount: pieces.length / 20,
    pieceHash: (index) => pieces.subarray(index * 20, index * 20 + 20),
    pieceSize: (index) => (index === pieces.length / 20 - 1 ? offset - index * pieceLength : pieceLength),
    length: offset,
    files,
  };
}

/** Runs argv under rusage.py and returns its report (status, wall, user, sys, maxrssKiB). */
function measured(python, rusage, argv) {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [rusage, '--', ...argv], {
      stdio: ['ignore', 'ignore', 'inherit', 'pipe'],
      env: { ...process.env, TORK_HERMETIC: '1' },
    });
    const timer = setTimeout(() => child.kill('SIGTERM'), 600_000);
    let report = '';
    child.stdio[3].on('data', (chunk) => {
      report += chunk;
    });
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      const last = report.trim().split('\n').at(-1);
      try {
        resolve(JSON.parse(last));
      } catch {
        reject(new Error(`no rusage report: ${report}`));
      }
    });
  });
}

/** Throws unless the two trees hold the same files with the same bytes. */
async function sameAs(got, want) {
  const code = await new Promise((resolve) =>
    spawn('diff', ['-rq', got, want], { stdio: 'inherit' }).on('close', resolve),
  );
  if (code !== 0) throw new Error(`${got} differs from ${want}`);
}
