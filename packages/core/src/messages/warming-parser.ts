import * as z from 'zod';

/**
 * Uses of a WarmingParser's schema before it compiles itself: enough for start-up's few messages
 * (the first command batch, the first tracker answer), few enough that a hot path soon runs the
 * compiled parser.
 */
export const DEFAULT_COMPILE_AFTER_USES = 16;

/**
 * A zod schema's parser that compiles itself (`z.compile`) only once it is in steady use, or when
 * told to in an idle moment. Why: compiling a union of message kinds costs 10–35 ms on this
 * machine, zod's own parser's first call ~7 ms and each later call a few times the compiled
 * one's. Compiling at the first message put the compile on the way to the first peer
 * (docs/performance.md "Start-up, third pass"); parsing start-up's few messages with zod's own
 * parser and compiling after `compileAfter` uses (or at `compile()`, called where a thread waits)
 * keeps it off that path, and hot paths still run compiled code after a handful of messages.
 * Both parsers apply the same schema: results and issues are the same.
 */
export class WarmingParser<S extends z.ZodType> {
  readonly #schema: S;
  readonly #compileAfter: number;
  #uses = 0;
  #compiled: ReturnType<typeof z.compile<S>> | undefined;

  /**
   * @param schema the schema to parse with.
   * @param compileAfter uses parsed with zod's own parser before the compile. Default:
   *   DEFAULT_COMPILE_AFTER_USES (16); 0 compiles at the first use.
   */
  constructor(schema: S, compileAfter: number = DEFAULT_COMPILE_AFTER_USES) {
    this.#schema = schema;
    this.#compileAfter = compileAfter;
  }

  /** Whether the compiled parser exists (for tests and the start-up trace). */
  get compiled(): boolean {
    return this.#compiled !== undefined;
  }

  /** Compiles now (idempotent): for a moment the thread would otherwise spend waiting. */
  compile(): void {
    this.#compiled ??= z.compile(this.#schema);
  }

  safeParse(value: unknown): z.ZodSafeParseResult<z.output<S>> {
    if (this.#compiled === undefined && ++this.#uses > this.#compileAfter) this.compile();
    return (this.#compiled ?? this.#schema).safeParse(value) as z.ZodSafeParseResult<z.output<S>>;
  }
}
