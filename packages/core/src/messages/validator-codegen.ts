/**
 * Turns the zod schemas of the thread messages into plain JavaScript validators, at build time
 * (`scripts/gen-validators.mjs` writes `generated/message-validators.ts`). Why: zod and its compiler
 * are 280 KB of every thread's bundle, and loading them, building the schemas and compiling their
 * parsers cost each thread 35–50 ms of CPU at every start, on the way to the first peer
 * (docs/performance.md, "Issue 17, seventh session"). The schemas stay the one declaration of each
 * message; the validators are derived from them, checked against them by tests, and carry no zod.
 *
 * Semantics follow zod 4's own compiler (`zod/v4/core/compile.js`, the reference for every case
 * below): the same checks in the same order, a fresh output (objects keep only their declared keys,
 * an optional key only when the input has it; `readonly` freezes), and the first failure is
 * reported with its path, where zod would have reported its first issue. Structured clones carry
 * no symbols and no accessors, so records walk `Object.keys`.
 *
 * Only what the message schemas use is supported; anything else throws `ValidatorCodegenError` at
 * build time, naming where it is, so a schema change that needs more fails the build, not a thread.
 * Functions (`z.custom`, `.refine`) must be named exports of the predicates module handed in: a
 * generated file can only call what it can import.
 */

/** A schema the generator cannot turn into code (an unsupported kind, or an unnamed predicate). */
export class ValidatorCodegenError extends Error {
  override readonly name = 'ValidatorCodegenError';
}

/** What to generate: exported validator names and their zod schemas, and how to name functions. */
export interface ValidatorModuleSpec {
  /** `validateX` → the zod schema it checks (and the TypeScript type of its output). */
  readonly validators: ReadonlyArray<{
    readonly name: string;
    readonly schema: unknown;
    /** The output type as TypeScript, with its import: e.g. `HostEvent` from `../host-event.js`. */
    readonly type: { readonly name: string; readonly from: string };
  }>;
  /** Named predicates the schemas call (`z.custom(fn)`, `.refine(fn)`), and the module exporting them. */
  readonly predicates: { readonly from: string; readonly functions: Readonly<Record<string, unknown>> };
  /**
   * Classes `z.instanceof` may name, by the expression generated code uses for them (globals such
   * as `ArrayBuffer`, or a name imported from a module).
   */
  readonly classes: ReadonlyArray<{ readonly name: string; readonly value: unknown; readonly from?: string }>;
  /** The first lines of the file (why it exists, how to regenerate it). */
  readonly header: string;
}

// biome-ignore lint/suspicious/noExplicitAny: zod's internal `_zod.def` tree is walked untyped.
type AnySchema = any;

interface Ctx {
  readonly spec: ValidatorModuleSpec;
  lines: string[];
  /** Functions generated besides the one being written (a union's variants), to append. */
  readonly extra: string[];
  /** The function being written, to name its variants after. */
  fn: string;
  indent: number;
  vars: number;
  /** Where in the schema tree we are, for build-time errors. */
  readonly where: string[];
  /** Schemas generated as functions of their own (used in more than one place), by identity. */
  readonly shared: Map<AnySchema, string>;
  /** Module-level constants (large enums' sets). */
  readonly enums: string[];
}

function write(ctx: Ctx, line: string): void {
  ctx.lines.push(`${'  '.repeat(ctx.indent)}${line}`);
}

function newVar(ctx: Ctx, prefix = 'v'): string {
  return `${prefix}${ctx.vars++}`;
}

function refuse(ctx: Ctx, what: string): never {
  throw new ValidatorCodegenError(
    `cannot generate a validator for ${what} at ${ctx.where.join(' > ') || '(root)'}`,
  );
}

/** A string literal for generated code. */
function str(value: string): string {
  return JSON.stringify(value);
}

/** A property name generated code may write after a dot. */
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** `acc.key`, or `acc["key"]` when the key is no identifier. */
function member(acc: string, key: string): string {
  return IDENTIFIER.test(key) ? `${acc}.${key}` : `${acc}[${str(key)}]`;
}

/** The generated path expression: static keys quoted, loop indices and keys as variables. */
function pathExpr(path: readonly string[]): string {
  return `[${path.join(', ')}]`;
}

/**
 * The message a check or schema was given (`{ message }` / `{ error }`), called as zod calls it;
 * undefined when it has none. A message that depends on the input is refused: generated code has
 * only the constant.
 */
function customMessage(ctx: Ctx, def: AnySchema): string | undefined {
  const error = def?.error;
  if (typeof error !== 'function') return undefined;
  const text = (value: unknown) =>
    typeof value === 'string'
      ? value
      : typeof value === 'object' && value !== null
        ? (value as { message?: unknown }).message
        : undefined;
  const first = text(error({ input: undefined, code: 'custom' }));
  if (first === undefined) return undefined;
  if (text(error({ input: 0, code: 'custom' })) !== first)
    refuse(ctx, 'an error message that depends on the input');
  return String(first);
}

function predicateName(ctx: Ctx, fn: unknown): string {
  for (const [name, value] of Object.entries(ctx.spec.predicates.functions))
    if (value === fn) return `P.${name}`;
  return refuse(
    ctx,
    `a function that is not a named export of ${ctx.spec.predicates.from} (${String(fn).slice(0, 80)})`,
  );
}

function className(ctx: Ctx, value: unknown): string {
  for (const entry of ctx.spec.classes) if (entry.value === value) return entry.name;
  return refuse(
    ctx,
    `an instanceof class not listed in classes (${String((value as { name?: string })?.name)})`,
  );
}

function numeric(ctx: Ctx, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) refuse(ctx, `a bound of type ${typeof value}`);
  return value;
}

/**
 * A leaf's checks as one condition and one description: the success path is a single test, and a
 * failure names the whole constraint and the value ("expected number (int, >=0), received -1").
 * Checks that carry their own message, and refinements, come back apart, in order, to be tested
 * after it with their own words, as zod words them.
 */
interface Leaf {
  /** The type test (`typeof v === "number"`, …): failing it aborts, as zod's type issues do. */
  readonly type: string[];
  readonly cond: string[];
  readonly desc: string[];
  readonly separate: Array<{ cond: string; message: string; abort: boolean }>;
}

function leafChecks(
  ctx: Ctx,
  schema: AnySchema,
  acc: string,
  kind: 'number' | 'string' | 'array' | 'other',
  leaf: Leaf,
): void {
  for (const check of (schema._zod.def.checks ?? []) as AnySchema[]) {
    const def = check._zod.def;
    if (def.when !== undefined && !['min_length', 'max_length', 'length_equals'].includes(def.check))
      refuse(ctx, `a check with a custom "when" (${def.check})`);
    let cond: string;
    let desc: string;
    switch (def.check) {
      case 'greater_than': {
        const bound = numeric(ctx, def.value);
        cond = `${acc} ${def.inclusive ? '>=' : '>'} ${bound}`;
        desc = `${def.inclusive ? '>=' : '>'}${bound}`;
        break;
      }
      case 'less_than': {
        const bound = numeric(ctx, def.value);
        cond = `${acc} ${def.inclusive ? '<=' : '<'} ${bound}`;
        desc = `${def.inclusive ? '<=' : '<'}${bound}`;
        break;
      }
      case 'number_format':
        if (def.format !== 'safeint') refuse(ctx, `number format ${def.format}`);
        // zod reports a non-integer as a type issue (it aborts), an integer beyond 2^53 as a failed
        // check (it does not).
        leaf.type.push(`Number.isInteger(${acc})`);
        cond = `Number.isSafeInteger(${acc})`;
        desc = 'int';
        break;
      case 'min_length': {
        const min = numeric(ctx, def.minimum);
        // zod counts a string in code points: at least length / 2 of them, at most length.
        cond =
          kind === 'string'
            ? `(${acc}.length >= ${min * 2} || (${acc}.length >= ${min} && codePointLength(${acc}) >= ${min}))`
            : `${acc}.length >= ${min}`;
        desc = `length >=${min}`;
        break;
      }
      case 'max_length': {
        const max = numeric(ctx, def.maximum);
        cond =
          kind === 'string'
            ? `(${acc}.length <= ${max} || codePointLength(${acc}) <= ${max})`
            : `${acc}.length <= ${max}`;
        desc = `length <=${max}`;
        break;
      }
      case 'string_format': {
        if (def.format !== 'regex' || !(def.pattern instanceof RegExp))
          refuse(ctx, `string format ${def.format}`);
        const pattern = def.pattern as RegExp;
        if (pattern.global || pattern.sticky) refuse(ctx, 'a global or sticky regex');
        cond = `${pattern.toString()}.test(${acc})`;
        desc = `matching ${pattern.toString()}`;
        break;
      }
      case 'custom': {
        if (typeof def.fn !== 'function') refuse(ctx, 'a custom check without a predicate (superRefine)');
        leaf.separate.push({
          cond: `${predicateName(ctx, def.fn)}(${acc})`,
          message: customMessage(ctx, def) ?? 'Invalid input',
          abort: def.abort === true,
        });
        continue;
      }
      default:
        refuse(ctx, `check ${def.check}`);
    }
    const message = customMessage(ctx, def);
    if (message !== undefined) leaf.separate.push({ cond, message, abort: def.abort === true });
    else {
      leaf.cond.push(cond);
      leaf.desc.push(desc);
    }
  }
}

/**
 * Emits a leaf's tests: the merged condition, then the separate ones. A failure says whether the
 * type itself failed (zod's aborting issues) or only a check did: a union reports the one option
 * that got past its types, as zod does.
 */
function emitLeaf(
  ctx: Ctx,
  leaf: Leaf,
  what: string,
  acc: string,
  path: readonly string[],
  message?: string,
): void {
  const expected = leaf.desc.length ? `${what} (${leaf.desc.join(', ')})` : what;
  const typeOk = leaf.cond.length > 0 ? leaf.type.join(' && ') : 'false';
  const failure =
    message !== undefined
      ? `fail(${pathExpr(path)}, ${str(message)})`
      : `failExpected(${pathExpr(path)}, ${str(expected)}, ${acc}, ${typeOk})`;
  write(ctx, `if (!(${[...leaf.type, ...leaf.cond].join(' && ')})) return ${failure};`);
  emitSeparate(ctx, leaf, path);
}

function emitSeparate(ctx: Ctx, leaf: Leaf, path: readonly string[]): void {
  for (const check of leaf.separate)
    write(ctx, `if (!${check.cond}) return fail(${pathExpr(path)}, ${str(check.message)}, ${check.abort});`);
}

function literalTest(ctx: Ctx, value: unknown, acc: string): string {
  if (typeof value === 'string') return `${acc} === ${str(value)}`;
  if (typeof value === 'number' && Number.isFinite(value)) return `${acc} === ${value}`;
  if (typeof value === 'boolean' || value === null) return `${acc} === ${String(value)}`;
  return refuse(ctx, `a literal of type ${typeof value}`);
}

/** Emits the checks of `schema` on `acc`; returns the expression of its output. */
function gen(ctx: Ctx, schema: AnySchema, acc: string, path: readonly string[], asShared = true): string {
  const def = schema?._zod?.def;
  if (def === undefined) refuse(ctx, 'a value that is not a zod schema');
  if (def.coerce) refuse(ctx, 'coercion');
  const shared = asShared ? ctx.shared.get(schema) : undefined;
  if (shared !== undefined) {
    const v = newVar(ctx);
    write(ctx, `const ${v} = ${shared}(${acc});`);
    write(ctx, `if (${v} === INVALID) return rebase(${pathExpr(path)});`);
    return v;
  }
  const leaf: Leaf = { type: [], cond: [], desc: [], separate: [] };
  switch (def.type) {
    case 'string':
      if (def.format !== undefined) refuse(ctx, `a string format ${def.format} on the type`);
      leaf.type.push(`typeof ${acc} === "string"`);
      leafChecks(ctx, schema, acc, 'string', leaf);
      emitLeaf(ctx, leaf, 'string', acc, path);
      return acc;
    case 'number':
      if (def.check !== undefined) refuse(ctx, 'a number format on the type');
      leaf.type.push(`typeof ${acc} === "number"`, `Number.isFinite(${acc})`);
      leafChecks(ctx, schema, acc, 'number', leaf);
      emitLeaf(ctx, leaf, 'number', acc, path);
      return acc;
    case 'boolean':
      leaf.type.push(`typeof ${acc} === "boolean"`);
      leafChecks(ctx, schema, acc, 'other', leaf);
      emitLeaf(ctx, leaf, 'boolean', acc, path);
      return acc;
    case 'null':
      leaf.type.push(`${acc} === null`);
      emitLeaf(ctx, leaf, 'null', acc, path);
      return acc;
    case 'unknown':
    case 'any':
      leafChecks(ctx, schema, acc, 'other', leaf);
      if (leaf.cond.length > 0) refuse(ctx, 'a size or format check on unknown');
      emitSeparate(ctx, leaf, path);
      return acc;
    case 'literal': {
      const values: unknown[] = def.values;
      if (values.length === 0) refuse(ctx, 'an empty literal');
      leaf.type.push(`(${values.map((value) => literalTest(ctx, value, acc)).join(' || ')})`);
      leafChecks(ctx, schema, acc, 'other', leaf);
      emitLeaf(
        ctx,
        leaf,
        values.map((value) => JSON.stringify(value)).join(' | '),
        acc,
        path,
        customMessage(ctx, def),
      );
      return acc;
    }
    case 'enum': {
      const values = [...(schema._zod.values as Set<unknown>)];
      if (!values.every((value) => typeof value === 'string')) refuse(ctx, 'an enum of other than strings');
      if (values.length <= 8)
        leaf.type.push(`(${values.map((value) => literalTest(ctx, value, acc)).join(' || ')})`);
      else leaf.type.push(`${enumSet(ctx, values as string[])}.has(${acc})`);
      leafChecks(ctx, schema, acc, 'other', leaf);
      emitLeaf(
        ctx,
        leaf,
        `one of ${values.map((value) => JSON.stringify(value)).join('|')}`,
        acc,
        path,
        customMessage(ctx, def),
      );
      return acc;
    }
    case 'custom': {
      if (typeof def.fn !== 'function') refuse(ctx, 'z.custom without a predicate');
      const cls = schema._zod.bag?.Class;
      const name = cls !== undefined ? className(ctx, cls) : undefined;
      leaf.type.push(
        name !== undefined ? `${acc} instanceof ${name}` : `${predicateName(ctx, def.fn)}(${acc})`,
      );
      leafChecks(ctx, schema, acc, 'other', leaf);
      emitLeaf(ctx, leaf, name ?? 'input', acc, path, customMessage(ctx, def));
      return acc;
    }
    case 'optional':
      return withChecks(ctx, schema, genUnless(ctx, def.innerType, acc, path, 'undefined'), path);
    case 'nullable':
      return withChecks(ctx, schema, genUnless(ctx, def.innerType, acc, path, 'null'), path);
    case 'readonly': {
      const inner = gen(ctx, def.innerType, acc, path);
      const v = newVar(ctx);
      write(ctx, `const ${v} = Object.freeze(${inner});`);
      return withChecks(ctx, schema, v, path);
    }
    case 'default': {
      const value = def.defaultValue;
      if (
        (value !== null && typeof value === 'object') ||
        ['function', 'symbol', 'bigint'].includes(typeof value)
      )
        refuse(ctx, `a default of type ${typeof value}`);
      const literal = value === undefined ? 'undefined' : JSON.stringify(value);
      const v = newVar(ctx);
      write(ctx, `let ${v} = ${literal};`);
      write(ctx, `if (${acc} !== undefined) {`);
      ctx.indent++;
      const inner = gen(ctx, def.innerType, acc, path);
      write(ctx, `${v} = ${inner} === undefined ? ${literal} : ${inner};`);
      ctx.indent--;
      write(ctx, '}');
      return withChecks(ctx, schema, v, path);
    }
    case 'pipe': {
      if (def.transform !== undefined || def.in?._zod?.def?.type === 'transform') refuse(ctx, 'a transform');
      return withChecks(ctx, schema, gen(ctx, def.out, gen(ctx, def.in, acc, path), path), path);
    }
    case 'array': {
      leaf.type.push(`Array.isArray(${acc})`);
      // Size checks before the items, as zod: an oversized list is refused before it is walked.
      leafChecks(ctx, schema, acc, 'array', leaf);
      emitLeaf(ctx, leaf, 'array', acc, path);
      const v = newVar(ctx);
      const i = newVar(ctx, 'i');
      write(ctx, `const ${v} = new Array(${acc}.length);`);
      write(ctx, `for (let ${i} = 0; ${i} < ${acc}.length; ${i}++) {`);
      ctx.indent++;
      ctx.where.push('[]');
      const item = newVar(ctx);
      write(ctx, `const ${item} = ${acc}[${i}];`);
      write(ctx, `${v}[${i}] = ${gen(ctx, def.element, item, [...path, i])};`);
      ctx.where.pop();
      ctx.indent--;
      write(ctx, '}');
      return v;
    }
    case 'object':
      return withChecks(ctx, schema, genObject(ctx, schema, acc, path, true), path);
    case 'record': {
      const keyDef = def.keyType?._zod?.def;
      if (
        keyDef?.type !== 'string' ||
        keyDef.format !== undefined ||
        (keyDef.checks?.length ?? 0) > 0 ||
        def.mode === 'loose'
      )
        refuse(ctx, 'a record whose keys are not plain strings');
      write(ctx, `if (!isPlainObject(${acc})) return failExpected(${pathExpr(path)}, "record", ${acc});`);
      const v = newVar(ctx);
      const k = newVar(ctx, 'k');
      write(ctx, `const ${v}: any = {};`);
      write(ctx, `for (const ${k} of Object.keys(${acc})) {`);
      ctx.indent++;
      write(ctx, `if (${k} === "__proto__") continue;`);
      ctx.where.push('{}');
      write(ctx, `${v}[${k}] = ${gen(ctx, def.valueType, `${acc}[${k}]`, [...path, k])};`);
      ctx.where.pop();
      ctx.indent--;
      write(ctx, '}');
      return withChecks(ctx, schema, v, path);
    }
    case 'union':
      return withChecks(
        ctx,
        schema,
        def.discriminator !== undefined
          ? genDiscriminated(ctx, def, acc, path)
          : genUnion(ctx, schema, acc, path),
        path,
      );
    default:
      return refuse(ctx, `schema type ${def.type}`);
  }
}

/** `.optional()` / `.nullable()`: the inner schema's checks, unless the value is `skip` (the output then). */
function genUnless(
  ctx: Ctx,
  inner: AnySchema,
  acc: string,
  path: readonly string[],
  skip: 'undefined' | 'null',
): string {
  const v = newVar(ctx);
  write(ctx, skip === 'undefined' ? `let ${v};` : `let ${v} = null;`);
  write(ctx, `if (${acc} !== ${skip}) {`);
  ctx.indent++;
  write(ctx, `${v} = ${gen(ctx, inner, acc, path)};`);
  ctx.indent--;
  write(ctx, '}');
  return v;
}

/** Refinements on a composite schema (`z.object(…).refine(…)`): run on its output, as zod does. */
function withChecks(ctx: Ctx, schema: AnySchema, out: string, path: readonly string[]): string {
  const leaf: Leaf = { type: [], cond: [], desc: [], separate: [] };
  leafChecks(ctx, schema, out, 'other', leaf);
  if (leaf.cond.length > 0) refuse(ctx, 'a size or format check on a composite schema');
  emitSeparate(ctx, leaf, path);
  return out;
}

/** Enum sets of more than a few values, hoisted to module scope. */
function enumSet(ctx: Ctx, values: string[]): string {
  const name = `ENUM_${ctx.enums.length}`;
  ctx.enums.push(`const ${name} = new Set(${JSON.stringify(values)});`);
  return name;
}

/**
 * An object's keys, checked in its shape's order; a fresh output of the declared keys (an optional
 * key only when the input has it); `.strict()` refuses others. `checked`: the caller already knows
 * `acc` is a non-array object (a discriminated union's branch).
 */
function genObject(
  ctx: Ctx,
  schema: AnySchema,
  acc: string,
  path: readonly string[],
  check: boolean,
  tag?: { key: string; value: unknown },
): string {
  const def = schema._zod.def;
  if (check)
    write(
      ctx,
      `if (typeof ${acc} !== "object" || ${acc} === null || Array.isArray(${acc})) return failExpected(${pathExpr(path)}, "object", ${acc});`,
    );
  const shape = def.shape as Record<string, AnySchema>;
  if (Object.getOwnPropertySymbols(shape).length > 0) refuse(ctx, 'a symbol key');
  const keys = Object.keys(shape);
  if (keys.includes('__proto__')) refuse(ctx, 'the key __proto__');
  const outputs = new Map<string, string>();
  const optionalKeys = new Set<string>();
  for (const key of keys) {
    const prop = shape[key];
    if (tag !== undefined && key === tag.key) {
      // Matched by the union's switch: the literal itself is the output.
      outputs.set(key, JSON.stringify(tag.value));
      continue;
    }
    ctx.where.push(key);
    const optin = prop._zod.optin;
    const optout = prop._zod.optout;
    if (optin !== undefined && !(optin === 'optional' && optout === 'optional'))
      refuse(ctx, 'a defaulted key (only plain .optional() keys are supported)');
    const keyPath = [...path, str(key)];
    const type = prop._zod.def.type;
    if (optin === undefined && (type === 'unknown' || type === 'any' || type === 'custom')) {
      // An absent key reads as undefined, which these kinds might accept: zod wants the key itself.
      write(
        ctx,
        `if (!(${str(key)} in ${acc})) return fail(${pathExpr(keyPath)}, "Invalid input: expected nonoptional, received undefined");`,
      );
    }
    // Read once: a property's checks and its output use the same value.
    const value = newVar(ctx);
    write(ctx, `const ${value} = ${member(acc, key)};`);
    if (optin === 'optional') optionalKeys.add(key);
    outputs.set(key, gen(ctx, prop, value, keyPath));
    ctx.where.pop();
  }
  const catchall = def.catchall;
  if (catchall !== undefined) {
    if (catchall._zod.def.type !== 'never') refuse(ctx, 'a catchall other than .strict()');
    const k = newVar(ctx, 'k');
    const known = keys.map((key) => `${k} !== ${str(key)}`).join(' && ') || 'true';
    write(
      ctx,
      `for (const ${k} in ${acc}) if (${known}) return fail(${pathExpr(path)}, "Unrecognized key: " + JSON.stringify(${k}));`,
    );
  }
  const prop = (key: string) => (IDENTIFIER.test(key) ? key : str(key));
  const v = newVar(ctx);
  const required = keys.filter((key) => !optionalKeys.has(key));
  write(
    ctx,
    `const ${v}: any = { ${required.map((key) => `${prop(key)}: ${outputs.get(key)}`).join(', ')} };`,
  );
  for (const key of keys) {
    if (optionalKeys.has(key))
      write(ctx, `if (${str(key)} in ${acc}) ${member(v, key)} = ${outputs.get(key)};`);
  }
  return v;
}

function genDiscriminated(ctx: Ctx, def: AnySchema, acc: string, path: readonly string[]): string {
  const key = def.discriminator as string;
  const tag = newVar(ctx);
  const v = newVar(ctx);
  write(
    ctx,
    `if (typeof ${acc} !== "object" || ${acc} === null || Array.isArray(${acc})) return failExpected(${pathExpr(path)}, "object", ${acc});`,
  );
  write(ctx, `const ${tag} = ${acc}[${str(key)}];`);
  write(ctx, `let ${v};`);
  write(ctx, `switch (${tag}) {`);
  const claimed = new Set<unknown>();
  for (const option of def.options as AnySchema[]) {
    const values: Set<unknown> | undefined = option._zod.propValues?.[key];
    if (!values || values.size === 0)
      refuse(ctx, 'a discriminated union option without a literal discriminator');
    for (const value of values) {
      if (claimed.has(value)) refuse(ctx, `a repeated discriminator ${String(value)}`);
      claimed.add(value);
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean')
        refuse(ctx, `a discriminator of type ${typeof value}`);
      write(ctx, `case ${JSON.stringify(value)}:`);
    }
    ctx.where.push(`${key}=${[...values].map(String).join('|')}`);
    ctx.indent++;
    write(ctx, '{');
    ctx.indent++;
    // An option that is a plain object with a single literal tag: its tag is known here.
    const plain =
      option._zod.def.type === 'object' &&
      values.size === 1 &&
      !ctx.shared.has(option) &&
      (option._zod.def.checks?.length ?? 0) === 0 &&
      option._zod.def.shape[key]?._zod.def.type === 'literal' &&
      (option._zod.def.shape[key]._zod.def.checks?.length ?? 0) === 0;
    // Each variant a function of its own: the compiler optimizes the variants that are hot (a
    // piece batch, stats), not one function holding every kind of message.
    const variant = `${ctx.fn}_${String([...values][0]).replace(/[^A-Za-z0-9]/g, '_')}`;
    inFunction(ctx, variant, 'any', '', false, (root) =>
      plain
        ? genObject(ctx, option, root, [], false, { key, value: [...values][0] })
        : gen(ctx, option, root, []),
    );
    write(ctx, `${v} = ${variant}(${acc});`);
    write(ctx, `if (${v} === INVALID) return rebase(${pathExpr(path)});`);
    write(ctx, 'break;');
    ctx.indent--;
    write(ctx, '}');
    ctx.indent--;
    ctx.where.pop();
  }
  write(ctx, 'default:');
  ctx.indent++;
  write(
    ctx,
    `return failExpected(${pathExpr([...path, str(key)])}, ${str(`one of the ${key}s ${[...claimed].map((value) => JSON.stringify(value)).join('|')}`)}, ${tag});`,
  );
  ctx.indent--;
  write(ctx, '}');
  return v;
}

function genUnion(ctx: Ctx, schema: AnySchema, acc: string, path: readonly string[]): string {
  const def = schema._zod.def;
  if (def.inclusive === false) refuse(ctx, 'z.xor');
  const options = def.options as AnySchema[];
  if (options.length === 0) refuse(ctx, 'an empty union');
  const v = newVar(ctx);
  // Failures of options that got past their types (zod's non-aborted results): when exactly one
  // did, its failure is the union's, as zod reports it.
  const near = newVar(ctx, 'near');
  write(ctx, `let ${v}: any = INVALID;`);
  write(ctx, `const ${near}: ValidationFailure[] = [];`);
  options.forEach((option, i) => {
    ctx.where.push(`option ${i}`);
    // Each option in a function of its own: its failure returns from that function, not the validator.
    write(ctx, i === 0 ? `${v} = (() => {` : `if (${v} === INVALID) ${v} = (() => {`);
    ctx.indent++;
    write(ctx, `return ${gen(ctx, option, acc, path)};`);
    ctx.indent--;
    write(ctx, '})();');
    write(ctx, `if (${v} === INVALID && !failure.aborted) ${near}.push(failure);`);
    ctx.where.pop();
  });
  write(ctx, `if (${v} === INVALID) {`);
  ctx.indent++;
  write(ctx, `if (${near}.length === 1) { failure = ${near}[0]!; return INVALID; }`);
  write(
    ctx,
    `return fail(${pathExpr(path)}, ${str(customMessage(ctx, def) ?? 'Invalid input: no option of the union matches')});`,
  );
  ctx.indent--;
  write(ctx, '}');
  return v;
}

/**
 * Writes a function of its own (into `ctx.extra`), then goes back to the one being written:
 * `body` emits the checks of its input (`root`) and returns the output expression.
 */
function inFunction(
  ctx: Ctx,
  name: string,
  type: string,
  doc: string,
  exported: boolean,
  body: (root: string) => string,
): void {
  const saved = { lines: ctx.lines, indent: ctx.indent, vars: ctx.vars, fn: ctx.fn };
  const lines: string[] = [];
  ctx.lines = lines;
  ctx.indent = 1;
  ctx.vars = 0;
  ctx.fn = name;
  if (doc) lines.push(doc);
  lines.push(`${exported ? 'export ' : ''}function ${name}(input: unknown): ${type} | typeof INVALID {`);
  write(ctx, 'const root: any = input;');
  const out = body('root');
  write(ctx, `return ${out};`);
  lines.push('}', '');
  ctx.lines = saved.lines;
  ctx.indent = saved.indent;
  ctx.vars = saved.vars;
  ctx.fn = saved.fn;
  ctx.extra.push(...lines);
}

/** Counts, by identity, the composite schemas met more than once: each becomes a function of its own. */
function findShared(spec: ValidatorModuleSpec): Map<AnySchema, string> {
  const seen = new Map<AnySchema, number>();
  const walk = (schema: AnySchema): void => {
    const def = schema?._zod?.def;
    if (def === undefined) return;
    const composite = def.type === 'object' || def.type === 'union';
    if (composite) {
      const count = (seen.get(schema) ?? 0) + 1;
      seen.set(schema, count);
      if (count > 1) return;
    }
    switch (def.type) {
      case 'object':
        for (const value of Object.values(def.shape as Record<string, AnySchema>)) walk(value);
        break;
      case 'union':
        for (const option of def.options) walk(option);
        break;
      case 'array':
        walk(def.element);
        break;
      case 'record':
        walk(def.valueType);
        break;
      case 'pipe':
        walk(def.in);
        walk(def.out);
        break;
      case 'optional':
      case 'nullable':
      case 'readonly':
      case 'default':
        walk(def.innerType);
        break;
    }
  };
  for (const entry of spec.validators) walk(entry.schema);
  // A top-level schema is its validator's function, called wherever else it is used.
  const shared = new Map<AnySchema, string>();
  for (const entry of spec.validators) shared.set(entry.schema, entry.name);
  let n = 0;
  for (const [schema, count] of seen)
    if (count > 1 && !shared.has(schema)) shared.set(schema, `shared${n++}`);
  return shared;
}

/** The whole generated module: runtime helpers, then one exported validator per spec entry. */
export function generateValidatorModule(spec: ValidatorModuleSpec): string {
  const shared = findShared(spec);
  const body: string[] = [];
  const ctx: Ctx = { spec, lines: body, extra: [], fn: '', indent: 0, vars: 0, where: [], shared, enums: [] };
  const emitFunction = (name: string, schema: AnySchema, exported: boolean, type: string, doc: string) => {
    ctx.where.length = 0;
    ctx.where.push(name);
    inFunction(ctx, name, type, doc, exported, (root) => gen(ctx, schema, root, [], false));
    body.push(...ctx.extra.splice(0));
  };
  const tops = new Set(spec.validators.map((entry) => entry.schema));
  for (const entry of spec.validators)
    emitFunction(
      entry.name,
      entry.schema,
      true,
      entry.type.name,
      `/** Checks a ${entry.type.name}: a fresh, checked copy of \`input\`, or INVALID (see \`lastFailure\`). */`,
    );
  for (const [schema, name] of shared)
    if (!tops.has(schema))
      emitFunction(name, schema, false, 'any', '/** A schema used in more than one place. */');

  const head: string[] = [spec.header.trimEnd(), ''];
  const typeImports = new Map<string, Set<string>>();
  for (const entry of spec.validators) {
    const names = typeImports.get(entry.type.from) ?? new Set<string>();
    names.add(entry.type.name);
    typeImports.set(entry.type.from, names);
  }
  const classImports = new Map<string, Set<string>>();
  for (const entry of spec.classes) {
    if (entry.from === undefined) continue;
    const names = classImports.get(entry.from) ?? new Set<string>();
    names.add(entry.name);
    classImports.set(entry.from, names);
  }
  for (const [from, names] of [...classImports].sort(([a], [b]) => a.localeCompare(b)))
    head.push(`import { ${[...names].sort().join(', ')} } from ${str(from)};`);
  for (const [from, names] of [...typeImports].sort(([a], [b]) => a.localeCompare(b)))
    head.push(`import type { ${[...names].sort().join(', ')} } from ${str(from)};`);
  head.push(`import * as P from ${str(spec.predicates.from)};`, '');
  head.push(RUNTIME.trim(), '');
  head.push(...ctx.enums);
  if (ctx.enums.length > 0) head.push('');
  return `${[...head, ...body].join('\n').trimEnd()}\n`;
}

/** Helpers every generated module starts with. */
const RUNTIME = `
/** What a validator returns for input its schema rejects. */
export const INVALID: unique symbol = Symbol('invalid');

/** Where the last rejected input failed, and why (zod's first issue, in its words where it has them). */
export interface ValidationFailure {
  readonly path: ReadonlyArray<string | number>;
  readonly message: string;
  /** The value's type (or kind, or key set) failed, not one of its checks: zod's aborting issues. */
  readonly aborted: boolean;
}

let failure: ValidationFailure = { path: [], message: 'Invalid input', aborted: true };

/** The failure behind the last INVALID (validators run synchronously: it is the caller's). */
export function lastFailure(): ValidationFailure {
  return failure;
}

function fail(path: ReadonlyArray<string | number>, message: string, aborted = true): typeof INVALID {
  failure = { path, message, aborted };
  return INVALID;
}

/** "expected <what>, received <the value, briefly>". */
function failExpected(path: ReadonlyArray<string | number>, what: string, value: unknown, typeOk = false): typeof INVALID {
  return fail(path, 'Invalid input: expected ' + what + ', received ' + preview(value), !typeOk);
}

/** A shared schema's failure, seen from where it was used: its path behind the caller's. */
function rebase(prefix: ReadonlyArray<string | number>): typeof INVALID {
  if (prefix.length > 0) failure = { path: [...prefix, ...failure.path], message: failure.message, aborted: failure.aborted };
  return INVALID;
}

function preview(value: unknown): string {
  if (value === null || value === undefined || typeof value === 'boolean') return String(value);
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'number ' + value;
  if (typeof value === 'string') return 'string ' + JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value);
  if (Array.isArray(value)) return 'array of ' + value.length;
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'object';
  return typeof value;
}

function codePointLength(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

function isPlainObject(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
`;
