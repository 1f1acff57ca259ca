/**
 * The generated thread-message validators (generated/message-validators.ts) against the zod schemas
 * they are generated from: the committed file is what the generator makes of today's schemas, and
 * on valid messages and on every kind of broken one, each validator accepts exactly what zod
 * accepts, returns what zod returns, and names the path of zod's first issue.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import fc from 'fast-check';
import * as z from 'zod';
import * as V from './generated/message-validators.js';
import * as P from './message-predicates.js';
import { MESSAGE_VALIDATOR_SPEC } from './message-validator-spec.js';
import { generateValidatorModule, ValidatorCodegenError } from './validator-codegen.js';

/** Cases per validator: 300 valid and 300 broken in CI; a nightly run sets TORK_FUZZ_RUNS. */
const RUNS = Math.max(50, Math.floor(Number(process.env.TORK_FUZZ_RUNS ?? 10_000) / 33));

// biome-ignore lint/suspicious/noExplicitAny: zod's internal def tree.
type AnySchema = any;

const ports: MessagePort[] = [];
function port(): MessagePort {
  const channel = new MessageChannel();
  ports.push(channel.port1, channel.port2);
  channel.port1.unref();
  channel.port2.unref();
  return channel.port1;
}

/** Values a predicate accepts (and, as for any generator here, a few it may not). */
function predicateArbitrary(fn: unknown): fc.Arbitrary<unknown> | undefined {
  if (fn === P.isBytes) return fc.uint8Array({ maxLength: 48 });
  if (fn === P.has20Bytes) return fc.uint8Array({ minLength: 20, maxLength: 20 });
  if (fn === P.has32Bytes) return fc.uint8Array({ minLength: 32, maxLength: 32 });
  if (fn === P.has256Bytes) return fc.uint8Array({ minLength: 256, maxLength: 256 });
  if (fn === P.isPiecesRootList) return fc.integer({ min: 0, max: 3 }).map((n) => new Uint8Array(n * 32));
  if (fn === P.fitsMetadataCap) return fc.uint8Array({ maxLength: 64 });
  if (fn === P.isMessagePort) return fc.constant(null).map(() => port());
  if (fn === P.isPexAddress) return fc.constantFrom('10.0.0.1', '127.0.0.1', '::1', 'fe80::2');
  if (fn === P.isIpv4Host) return fc.constantFrom('10.0.0.1', '127.0.0.1', '192.168.1.20');
  return undefined;
}

function checksOf(schema: AnySchema): AnySchema[] {
  return (schema._zod.def.checks ?? []).map((check: AnySchema) => check._zod.def);
}

/** A generator of values the schema accepts (mostly: refinements are met by construction or filtered). */
function arbitrary(schema: AnySchema): fc.Arbitrary<unknown> {
  const def = schema._zod.def;
  const checks = checksOf(schema);
  const bound = (kind: string) => checks.find((check) => check.check === kind);
  let arb: fc.Arbitrary<unknown>;
  switch (def.type) {
    case 'string': {
      const pattern = bound('string_format')?.pattern as RegExp | undefined;
      const min = bound('min_length')?.minimum ?? 0;
      const max = Math.min(bound('max_length')?.maximum ?? 24, min + 24);
      arb = pattern
        ? fc.stringMatching(pattern)
        : fc.string({ minLength: min, maxLength: max, unit: 'grapheme' });
      break;
    }
    case 'number': {
      const low = bound('greater_than');
      const high = bound('less_than');
      const int = checks.some((check) => check.check === 'number_format');
      const min = low ? low.value + (low.inclusive ? 0 : int ? 1 : 1e-9) : -1e6;
      const max = high ? high.value - (high.inclusive ? 0 : int ? 1 : 1e-9) : Math.max(min + 1e6, 1e6);
      arb = int
        ? fc.integer({ min: Math.ceil(min), max: Math.floor(Math.min(max, Math.ceil(min) + 1e9)) })
        : fc.double({ min, max, noNaN: true, noDefaultInfinity: true });
      break;
    }
    case 'boolean':
      arb = fc.boolean();
      break;
    case 'null':
      arb = fc.constant(null);
      break;
    case 'unknown':
    case 'any':
      arb = fc.oneof(fc.integer(), fc.string({ maxLength: 4 }), fc.constant(null), fc.boolean());
      break;
    case 'literal':
      arb = fc.constantFrom(...def.values);
      break;
    case 'enum':
      arb = fc.constantFrom(...schema._zod.values);
      break;
    case 'custom': {
      const cls = schema._zod.bag?.Class;
      const refine = checks.find((check) => check.check === 'custom')?.fn;
      if (cls === ArrayBuffer) arb = fc.uint8Array({ maxLength: 48 }).map((bytes) => bytes.slice().buffer);
      else if (cls === Uint8Array) arb = fc.uint8Array({ maxLength: 48 });
      else {
        const made = predicateArbitrary(refine) ?? predicateArbitrary(def.fn);
        if (made === undefined) throw new Error(`no generator for custom ${String(def.fn).slice(0, 60)}`);
        arb = made;
      }
      break;
    }
    case 'optional':
      return fc.option(arbitrary(def.innerType), { nil: undefined, freq: 3 });
    case 'nullable':
      return fc.option(arbitrary(def.innerType), { nil: null, freq: 3 });
    case 'readonly':
      return arbitrary(def.innerType);
    case 'default':
      return fc.option(arbitrary(def.innerType), { nil: undefined, freq: 3 });
    case 'pipe':
      return arbitrary(def.out);
    case 'array': {
      const min = bound('min_length')?.minimum ?? 0;
      const max = Math.min(bound('max_length')?.maximum ?? 3, min + 3);
      arb = fc.array(arbitrary(def.element), { minLength: min, maxLength: max });
      break;
    }
    case 'record':
      arb = fc.dictionary(fc.string({ maxLength: 5 }), arbitrary(def.valueType), { maxKeys: 3 });
      break;
    case 'object': {
      const shape = def.shape as Record<string, AnySchema>;
      const required = Object.keys(shape).filter((key) => shape[key]._zod.optin === undefined);
      const fields: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [key, value] of Object.entries(shape))
        fields[key] =
          value._zod.def.type === 'optional' ? arbitrary(value._zod.def.innerType) : arbitrary(value);
      arb = fc.record(fields, { requiredKeys: required });
      break;
    }
    case 'union':
      arb = fc.oneof(...def.options.map((option: AnySchema) => arbitrary(option)));
      break;
    default:
      throw new Error(`no generator for ${def.type}`);
  }
  // Object refinements (a relay data's length within its buffer, a hash job's v2 records): filtered.
  const objectRefines = def.type === 'object' ? checks.filter((check) => check.check === 'custom') : [];
  for (const check of objectRefines) arb = arb.filter((value) => Boolean(check.fn(value)));
  return arb;
}

const HOSTILE: unknown[] = [
  undefined,
  null,
  -1,
  0.5,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  2 ** 53,
  70_000,
  '',
  'x'.repeat(300),
  'zz',
  true,
  {},
  [],
  [1, 2],
  new Uint8Array(3),
  new ArrayBuffer(2),
  { type: 'nope' },
];

/** Every place in a value a mutation can reach: [parent, key] pairs. */
function places(value: unknown, out: Array<[Record<string | number, unknown>, string | number]> = []) {
  if (
    value === null ||
    typeof value !== 'object' ||
    ArrayBuffer.isView(value) ||
    value instanceof ArrayBuffer
  )
    return out;
  if (value.constructor !== Object && !Array.isArray(value)) return out;
  for (const key of Object.keys(value)) {
    const k = Array.isArray(value) ? Number(key) : key;
    out.push([value as Record<string | number, unknown>, k]);
    places((value as Record<string, unknown>)[key], out);
  }
  return out;
}

/** A deep copy of `value` with one thing broken: a value replaced, a key deleted, or a key added. */
function mutate(value: unknown, pick: number, hostile: unknown, how: number): unknown {
  const copy = structuredCloneSafe(value);
  const spots = places(copy);
  if (spots.length === 0) return hostile;
  const [parent, key] = spots[pick % spots.length]!;
  if (how === 0 && !Array.isArray(parent)) delete parent[key];
  else if (how === 1 && !Array.isArray(parent)) parent[`extra${pick}`] = hostile;
  else parent[key] = hostile;
  return copy;
}

function structuredCloneSafe(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (
    ArrayBuffer.isView(value) ||
    value instanceof ArrayBuffer ||
    !(Array.isArray(value) || value.constructor === Object)
  )
    return value;
  if (Array.isArray(value)) return value.map(structuredCloneSafe);
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) out[key] = structuredCloneSafe(inner);
  return out;
}

/** zod and the generated validator on one input: same verdict, same output, same first path. */
function agree(schema: AnySchema, validate: (value: unknown) => unknown, input: unknown): void {
  const got = validate(input);
  let expected: AnySchema;
  try {
    expected = schema.safeParse(input);
  } catch {
    // zod itself can throw on hostile input (its `readonly` freezes a typed array it refused:
    // TypeError); the validator must refuse that input, not throw.
    assert.equal(got, V.INVALID, 'zod throws, the validator accepted');
    return;
  }
  if (expected.success) {
    assert.notEqual(got, V.INVALID, `zod accepts, the validator refused: ${JSON.stringify(V.lastFailure())}`);
    assert.deepStrictEqual(got, expected.data);
  } else {
    assert.equal(
      got,
      V.INVALID,
      `zod refuses (${expected.error.issues[0]?.message}), the validator accepted`,
    );
    assert.deepEqual(
      V.lastFailure().path,
      expected.error.issues[0]?.path,
      `zod: ${JSON.stringify(expected.error.issues[0])}; validator: ${JSON.stringify(V.lastFailure())}`,
    );
  }
}

describe('generated thread-message validators', () => {
  it('the committed file is what the generator makes of the schemas today', () => {
    const committed = readFileSync(
      new URL('../../src/messages/generated/message-validators.ts', import.meta.url),
      'utf8',
    );
    assert.ok(
      committed === generateValidatorModule(MESSAGE_VALIDATOR_SPEC),
      'generated/message-validators.ts is stale: run `pnpm run build && pnpm run gen:validators`',
    );
  });

  for (const entry of MESSAGE_VALIDATOR_SPEC.validators) {
    const validate = (V as unknown as Record<string, (value: unknown) => unknown>)[entry.name];
    it(`${entry.name} accepts and refuses what zod does`, () => {
      assert.equal(typeof validate, 'function', `${entry.name} is exported`);
      const valid = arbitrary(entry.schema);
      fc.assert(
        fc.property(valid, (value) => agree(entry.schema, validate!, value)),
        { numRuns: RUNS },
      );
      fc.assert(
        fc.property(
          valid,
          fc.nat(),
          fc.constantFrom(...HOSTILE),
          fc.nat({ max: 5 }),
          (value, pick, hostile, how) => agree(entry.schema, validate!, mutate(value, pick, hostile, how)),
        ),
        { numRuns: RUNS },
      );
      for (const hostile of HOSTILE) agree(entry.schema, validate!, hostile);
    });
  }

  it('refuses at build time what it cannot generate, naming where', () => {
    const spec = (schema: unknown) => ({
      ...MESSAGE_VALIDATOR_SPEC,
      validators: [{ name: 'validateX', schema, type: { name: 'X', from: './x.js' } }],
    });
    const refused = (schema: unknown, why: RegExp) =>
      assert.throws(
        () => generateValidatorModule(spec(schema)),
        (error: unknown) =>
          error instanceof ValidatorCodegenError &&
          why.test(error.message) &&
          /validateX > a/.test(error.message),
      );
    refused(z.object({ a: z.number().refine((n) => n > 1) }), /not a named export/);
    refused(z.object({ a: z.string().transform((text) => text.length) }), /transform/);
    refused(z.object({ a: z.string().email() }), /string format email/);
    refused(z.object({ a: z.number().default(3) }), /defaulted key/);
    for (const p of ports) p.close();
  });
});
