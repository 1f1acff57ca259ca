#!/usr/bin/env node
/**
 * Coverage-guided fuzzing of the peer wire decoder (packages/core/dist/wire/decoder.js), with
 * nothing but Node: V8's precise block coverage through `node:inspector` is the feedback.
 *
 * Loop: pick an input from the corpus, mutate it (bit flips, interesting bytes, length-prefix
 * tweaks, inserts, deletes, splices, different chunk splits and decoder options), run it, take the
 * coverage of decoder.js and handshake.js, and keep the input if it reached a block (or a block
 * hit-count bucket) never seen before. Every run checks the invariants:
 *
 * - `push` throws nothing but a TorkError with a known TORK_ERR_* code (never TORK_ERR_INTERNAL);
 * - after an error the decoder is dead: `error` is that error and every later `push` rethrows it;
 * - `bufferedBytes` never exceeds 4 + `maxMessageLength` (68 during the handshake; after a late
 *   `setPieceCount`, the larger cap that was in force when the buffered message's prefix was read);
 * - the same bytes pushed whole and pushed in chunks give the same messages, or errors of the same code;
 * - no single run takes longer than 2 s (a hang or a quadratic path).
 *
 * A violation is a crasher: its bytes go to scripts/fuzz/crashers/<sha1>.bin with a .txt beside it.
 *
 * Usage: pnpm run build && node scripts/fuzz-wire.mjs [--seconds 60] [--seed N] [--save-corpus] [--uncovered]
 *        node scripts/fuzz-wire.mjs --replay scripts/fuzz/crashers/<sha1>.bin
 * Input layout: 4 option bytes (handshake/reuse/piece-count/late-piece-count flags, piece count, caps, chunking),
 * then the byte stream.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'packages/core/dist');
const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    seed: { type: 'string', default: String(Date.now() % 2 ** 31) },
    'save-corpus': { type: 'boolean', default: false },
    replay: { type: 'string' },
    quiet: { type: 'boolean', default: false },
    uncovered: { type: 'boolean', default: false },
  },
});

const { WireDecoder } = await import(pathToFileURL(join(dist, 'wire/decoder.js')).href);
const { TorkError, TorkErrorCode } = await import(pathToFileURL(join(dist, 'errors.js')).href);
const enc = await import(pathToFileURL(join(dist, 'wire/encoder.js')).href);
const { encodeHandshake } = await import(pathToFileURL(join(dist, 'wire/handshake.js')).href);

const KNOWN_CODES = new Set(Object.values(TorkErrorCode));
const crashDir = join(root, 'scripts/fuzz/crashers');
const corpusDir = join(root, 'scripts/fuzz/corpus');
const TARGETS = ['/wire/decoder.js', '/wire/handshake.js'];

// --- a small seeded PRNG (xorshift32), so a run is reproducible from its --seed ---------------
let state = Number(args.seed) >>> 0 || 1;
function rand(n) {
  state ^= state << 13;
  state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5;
  state >>>= 0;
  return state % n;
}
const pick = (list) => list[rand(list.length)];

// --- running one input -----------------------------------------------------------------------
const CAPS = [
  {},
  { maxBlockLength: 100, maxExtendedLength: 50, maxUnknownLength: 20, maxPieceCount: 64 },
  { maxBlockLength: 16 * 1024, maxExtendedLength: 0, maxUnknownLength: 0, maxPieceCount: 0 },
  { maxBlockLength: 1, maxExtendedLength: 1, maxUnknownLength: 1, maxPieceCount: 8 },
];

function optionsOf(input) {
  const flags = input[0] ?? 0;
  const options = {
    expectHandshake: (flags & 1) !== 0,
    reuseBuffers: (flags & 2) !== 0,
    ...CAPS[(input[2] ?? 0) & 3],
  };
  if (flags & 4) options.pieceCount = ((input[1] ?? 0) * 37) % 300;
  // Flag 8: the piece count becomes known only after the first chunk (magnet links), via setPieceCount.
  if (flags & 8) options.latePieceCount = ((input[1] ?? 0) * 37) % 300;
  return options;
}

/** Chunk sizes from the fourth option byte: 1-byte drips, small, mixed or whole. */
function chunksOf(input, stream) {
  const mode = input[3] ?? 0;
  if ((mode & 3) === 3) return [stream];
  const sizes = [[1], [1, 2, 3, 5, 7], [3, 64, 1, 300, 17]][mode & 3];
  const chunks = [];
  for (let at = 0, i = mode >> 2; at < stream.length; i++) {
    const size = sizes[i % sizes.length];
    chunks.push(stream.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

/** A comparable summary of a decoded message (views become byte strings). */
function summary(message) {
  const out = {};
  for (const [key, value] of Object.entries(message)) {
    out[key] = value instanceof Uint8Array ? Buffer.from(value).toString('hex') : value;
  }
  return JSON.stringify(out);
}

class Violation extends Error {}

/** Pushes `chunks` into a fresh decoder; returns { messages, code } or throws a Violation. */
function drive(options, chunks) {
  const { latePieceCount, ...decoderOptions } = options;
  if (latePieceCount !== undefined) delete decoderOptions.pieceCount;
  const decoder = new WireDecoder(decoderOptions);
  const messages = [];
  // The documented bound: 4 + the largest message length accepted when the buffered message's prefix
  // was read. A late setPieceCount can lower the cap under a message already buffering, so keep the max.
  let cap = Math.max(68, 4 + decoder.maxMessageLength);
  for (const [i, chunk] of chunks.entries()) {
    if (i === 1 && latePieceCount !== undefined) decoder.setPieceCount(latePieceCount);
    cap = Math.max(cap, 4 + decoder.maxMessageLength);
    let out;
    try {
      out = decoder.push(chunk);
    } catch (error) {
      if (!(error instanceof TorkError))
        throw new Violation(`push threw a non-TorkError: ${error?.stack ?? error}`);
      if (!KNOWN_CODES.has(error.code)) throw new Violation(`unknown code ${error.code}`);
      if (error.code === TorkErrorCode.INTERNAL) throw new Violation(`TORK_ERR_INTERNAL: ${error.message}`);
      if (decoder.error !== error) throw new Violation('decoder.error is not the thrown error');
      if (decoder.bufferedBytes !== 0) throw new Violation(`dead decoder buffers ${decoder.bufferedBytes}`);
      let again;
      try {
        decoder.push(Uint8Array.of(0));
      } catch (second) {
        again = second;
      }
      if (again !== error) throw new Violation('a dead decoder did not rethrow its error');
      return { messages, code: error.code };
    }
    // With reuseBuffers, views are valid only until the next push: summarise now.
    for (const message of out) messages.push(summary(message));
    if (decoder.bufferedBytes > cap) throw new Violation(`bufferedBytes ${decoder.bufferedBytes} > ${cap}`);
  }
  return { messages, code: undefined };
}

function execute(input) {
  let options;
  try {
    options = optionsOf(input);
  } catch (error) {
    throw new Violation(`options refused: ${error}`);
  }
  const stream = input.subarray(4);
  const split = drive(options, chunksOf(input, stream));
  // With a late piece count the chunking decides which checks apply: no whole/split comparison.
  if (options.latePieceCount !== undefined) return split;
  const whole = drive(options, [stream]);
  if (whole.code !== split.code) {
    throw new Violation(`whole push ended ${whole.code ?? 'cleanly'}, split push ${split.code ?? 'cleanly'}`);
  }
  if (whole.code === undefined && whole.messages.join('\n') !== split.messages.join('\n')) {
    throw new Violation('whole and split pushes decoded different messages');
  }
  return whole;
}

// --- coverage ----------------------------------------------------------------------------------
const session = new Session();
session.connect();
function post(method, params = {}) {
  let result;
  let failure;
  session.post(method, params, (error, value) => {
    failure = error;
    result = value;
  });
  if (failure) throw failure;
  return result;
}
post('Profiler.enable');
post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });

const allBlocks = new Set();
/** Every feature reached so far. */
const seen = new Set();
/** Known blocks per target script, as [start, end, key]. */
const knownBlocks = new Map(TARGETS.map((t) => [t, []]));
/**
 * Features of the last run: covered blocks, and blocks with a hit-count bucket. Resets the counters.
 * V8 lists a block only where its count differs from the enclosing range's, so a known block that
 * is not listed in this run has the count of the innermost listed range around it.
 */
function takeFeatures() {
  const { result } = post('Profiler.takePreciseCoverage');
  const features = [];
  for (const script of result) {
    const target = TARGETS.find((t) => script.url.endsWith(t));
    if (!target) continue;
    const listed = [];
    const known = knownBlocks.get(target);
    for (const fn of script.functions) {
      for (const range of fn.ranges) {
        const block = `${target}:${range.startOffset}-${range.endOffset}`;
        listed.push(range);
        if (!allBlocks.has(block)) {
          allBlocks.add(block);
          known.push([range.startOffset, range.endOffset, block]);
        }
        if (range.count > 0) {
          features.push(block);
          features.push(`${block}#${Math.min(8, Math.floor(Math.log2(range.count)))}`);
        }
      }
    }
    for (const [start, end, block] of known) {
      if (seen.has(block)) continue;
      let inner;
      for (const range of listed) {
        if (range.startOffset <= start && end <= range.endOffset) {
          if (!inner || range.endOffset - range.startOffset <= inner.endOffset - inner.startOffset)
            inner = range;
        }
      }
      if (inner && inner.count > 0) features.push(block);
    }
  }
  return features;
}

// --- seeds and mutations -------------------------------------------------------------------------
const concat = (parts) => Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)));
const withOptions = (flags, pieceByte, caps, chunking, stream) =>
  new Uint8Array(concat([Uint8Array.of(flags, pieceByte, caps, chunking), stream]));

function seeds() {
  const handshake = encodeHandshake({
    infoHash: new Uint8Array(20).fill(1),
    peerId: new Uint8Array(20).fill(2),
  });
  const messages = [
    enc.encodeKeepAlive(),
    enc.encodeChoke(),
    enc.encodeUnchoke(),
    enc.encodeInterested(),
    enc.encodeNotInterested(),
    enc.encodeHave(3),
    enc.encodeBitfield(new Uint8Array(5).fill(0xf0)),
    enc.encodeRequest(1, 0, 16384),
    enc.encodePiece(2, 0, new Uint8Array(40).fill(7)),
    enc.encodeCancel(1, 0, 16384),
    enc.encodePort(6881),
    enc.encodeSuggestPiece(4),
    enc.encodeAllowedFast(5),
    enc.encodeRejectRequest(1, 16384, 16384),
    enc.encodeHaveAll(),
  ];
  const all = concat(messages);
  const unknown = Uint8Array.of(0, 0, 0, 4, 200, 1, 2, 3);
  const extended = Uint8Array.of(0, 0, 0, 6, 20, 0, 0x64, 0x65, 0x65, 0x65);
  const fast = Uint8Array.of(
    0,
    0,
    0,
    1,
    14,
    0,
    0,
    0,
    1,
    15,
    0,
    0,
    0,
    13,
    16,
    0,
    0,
    0,
    1,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    9,
  );
  return [
    withOptions(0, 0, 0, 3, all),
    withOptions(1, 0, 0, 0, concat([handshake, all])),
    withOptions(5, 1, 1, 1, concat([handshake, all, unknown, extended])),
    withOptions(2, 0, 2, 2, concat([all, all])),
    withOptions(4, 20, 0, 1, concat([fast, extended, unknown])),
    withOptions(3, 0, 3, 0, handshake),
    withOptions(8, 1, 0, 1, concat([enc.encodeBitfield(new Uint8Array(40).fill(0xff)), all])),
  ];
}

const INTERESTING_BYTES = [0, 1, 4, 5, 8, 9, 13, 14, 15, 16, 17, 20, 0x7f, 0x80, 0xfe, 0xff];
const INTERESTING_U32 = [
  0, 1, 2, 5, 9, 13, 14, 21, 50, 51, 52, 101, 102, 109, 16393, 16394, 131081, 131082, 0x7fffffff, 0xffffffff,
];

function mutate(input, corpus) {
  const out = Buffer.from(input);
  let bytes = out;
  const rounds = 1 + rand(4);
  for (let r = 0; r < rounds; r++) {
    const at = bytes.length > 0 ? rand(bytes.length) : 0;
    switch (rand(10)) {
      case 0: // bit flip
        if (bytes.length) bytes[at] ^= 1 << rand(8);
        break;
      case 1: // interesting byte
        if (bytes.length) bytes[at] = pick(INTERESTING_BYTES);
        break;
      case 2: // random byte
        if (bytes.length) bytes[at] = rand(256);
        break;
      case 3: {
        // length-prefix tweak: an interesting or nudged big-endian u32 somewhere past the options
        if (bytes.length < 8) break;
        const p = 4 + rand(bytes.length - 7);
        const current = bytes.readUInt32BE(p);
        const value = rand(2) ? pick(INTERESTING_U32) : (current + rand(5) - 2) >>> 0;
        bytes.writeUInt32BE(value >>> 0, p);
        break;
      }
      case 4: {
        // insert random or repeated bytes
        const length = 1 + rand(16);
        const insert = rand(2)
          ? Buffer.from(Array.from({ length }, () => rand(256)))
          : Buffer.alloc(length, bytes[at] ?? 0);
        bytes = Buffer.concat([bytes.subarray(0, at), insert, bytes.subarray(at)]);
        break;
      }
      case 5: {
        // delete a range (keep the option bytes)
        if (bytes.length <= 5) break;
        const from = 4 + rand(bytes.length - 4);
        const length = 1 + rand(Math.min(32, bytes.length - from));
        bytes = Buffer.concat([bytes.subarray(0, from), bytes.subarray(from + length)]);
        break;
      }
      case 6: {
        // splice with another corpus entry
        const other = pick(corpus);
        const from = 4 + rand(Math.max(1, other.length - 4));
        const cut = 4 + rand(Math.max(1, bytes.length - 3));
        bytes = Buffer.concat([bytes.subarray(0, cut), other.subarray(from, from + 1 + rand(200))]);
        break;
      }
      case 7: // duplicate a stretch (messages repeat)
        if (bytes.length > 5) {
          const from = 4 + rand(bytes.length - 4);
          bytes = Buffer.concat([bytes, bytes.subarray(from, from + 1 + rand(64))]);
        }
        break;
      case 8: // change the chunk split
        if (bytes.length >= 4) bytes[3] = rand(256);
        break;
      default: // change the decoder options
        if (bytes.length >= 4) bytes[rand(3)] = rand(256);
    }
  }
  return new Uint8Array(bytes.subarray(0, 1 << 16));
}

// --- main --------------------------------------------------------------------------------------
function saveCrasher(input, violation) {
  mkdirSync(crashDir, { recursive: true });
  const name = createHash('sha1').update(input).digest('hex');
  writeFileSync(join(crashDir, `${name}.bin`), input);
  writeFileSync(
    join(crashDir, `${name}.txt`),
    `${violation.message}\noptions: ${JSON.stringify(optionsOf(input))}\nstream: ${Buffer.from(input.subarray(4, 200)).toString('hex')}\n`,
  );
  return name;
}

function runOne(input) {
  const started = performance.now();
  let violation;
  try {
    execute(input);
  } catch (error) {
    violation = error instanceof Violation ? error : new Violation(`harness error: ${error?.stack ?? error}`);
  }
  const elapsed = performance.now() - started;
  if (!violation && elapsed > 2000) violation = new Violation(`one run took ${Math.round(elapsed)} ms`);
  return violation;
}

if (args.replay) {
  const input = new Uint8Array(readFileSync(args.replay));
  const violation = runOne(input);
  console.log(violation ? `VIOLATION: ${violation.message}` : 'no violation');
  process.exit(violation ? 1 : 0);
}

const seconds = Number(args.seconds);
const deadline = performance.now() + seconds * 1000;
const corpus = [];
const crashers = new Map();
let executions = 0;

function consider(input) {
  const violation = runOne(input);
  executions++;
  const features = takeFeatures();
  if (violation) {
    const key = violation.message.split('\n')[0].replace(/\d+/g, 'N');
    if (!crashers.has(key)) {
      const name = saveCrasher(input, violation);
      crashers.set(key, name);
      console.log(`crasher ${name}: ${violation.message.split('\n')[0]}`);
    }
  }
  let fresh = false;
  for (const feature of features) {
    if (!seen.has(feature)) {
      seen.add(feature);
      fresh = true;
    }
  }
  if (fresh) corpus.push(input);
  return fresh;
}

takeFeatures(); // reset the counters of module loading
let restored = 0;
for (const input of seeds()) consider(input);
if (args['save-corpus']) {
  try {
    for (const name of readdirSync(corpusDir)) {
      consider(new Uint8Array(readFileSync(join(corpusDir, name))));
      restored++;
    }
  } catch {}
}
let lastReport = performance.now();
while (performance.now() < deadline) {
  const parent = corpus.length > 8 && rand(4) === 0 ? corpus[corpus.length - 1 - rand(8)] : pick(corpus);
  consider(mutate(parent, corpus));
  if (!args.quiet && performance.now() - lastReport > 10_000) {
    lastReport = performance.now();
    const blocks = [...seen].filter((f) => !f.includes('#')).length;
    console.log(
      `${executions} execs, corpus ${corpus.length}, blocks ${blocks}/${allBlocks.size}, crashers ${crashers.size}`,
    );
  }
}

const covered = [...seen].filter((f) => !f.includes('#')).length;
if (args['save-corpus']) {
  mkdirSync(corpusDir, { recursive: true });
  for (const input of corpus) {
    writeFileSync(join(corpusDir, createHash('sha1').update(input).digest('hex')), input);
  }
}
if (args.uncovered) {
  // The blocks never reached, with the first line of their source: what the fuzzer could not get to.
  const sources = new Map();
  for (const block of [...allBlocks].filter((b) => !seen.has(b)).sort()) {
    const [, target, start] = /^(.*):(\d+)-\d+$/.exec(block);
    if (!sources.has(target)) sources.set(target, readFileSync(join(dist, target), 'utf8'));
    const source = sources.get(target);
    const line = source.slice(0, Number(start)).split('\n').length;
    const text = source.slice(Number(start)).split('\n')[0].trim().slice(0, 100);
    console.log(`uncovered ${target.slice(1)}:${line}: ${text}`);
  }
}
const report = {
  seconds,
  seed: Number(args.seed),
  executions,
  execsPerSecond: Math.round(executions / seconds),
  corpus: corpus.length,
  restoredFromCorpusDir: restored,
  blocksCovered: covered,
  blocksSeen: allBlocks.size,
  features: seen.size,
  crashers: crashers.size,
};
console.log(JSON.stringify(report));
session.disconnect();
process.exit(crashers.size > 0 ? 1 : 0);
