/**
 * What each thread loads at start: its bundle (scripts/bundle.mjs). The peer host, UDP host and
 * hash worker check their messages with the validators generated from the zod schemas
 * (core/messages/validator-codegen.ts), so none of them may carry zod (280 KB and 35–50 ms of CPU
 * per thread start), nor the package index (which would bring the whole engine, zod included).
 */
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const bundles = ['peer-host-worker.js', 'udp-host-worker.js', 'hash-worker.js'];

/**
 * Upper bounds with room (bytes, this build: 368 KB, 231 KB, 27 KB): a bundle that doubles has
 * picked up something a thread does not need.
 */
const MAX_BYTES: Record<string, number> = {
  'peer-host-worker.js': 520_000,
  'udp-host-worker.js': 340_000,
  'hash-worker.js': 60_000,
};

describe('thread bundles', () => {
  for (const name of bundles) {
    it(`${name} carries no zod and stays under ${MAX_BYTES[name]} bytes`, async () => {
      const path = `${root}packages/workers/dist/bundle/${name}`;
      const text = await readFile(path, 'utf8');
      // esbuild marks each bundled module with a path comment; zod's classes are $Zod*.
      assert.doesNotMatch(text, /node_modules\/\.pnpm\/zod@|\$ZodType|ZodError/, `${name} bundles zod`);
      assert.doesNotMatch(text, /packages\/core\/dist\/index\.js/, `${name} bundles @tork/core's index`);
      const { size } = await stat(path);
      assert.ok(size <= MAX_BYTES[name]!, `${name} is ${size} bytes`);
    });
  }
});
