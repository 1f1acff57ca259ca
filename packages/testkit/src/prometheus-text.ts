/**
 * A strict parser of the Prometheus text exposition format (0.0.4), for tests of `/metrics`.
 * Written here rather than taken from npm: the parsers there (e.g. `parse-prometheus-text-format`)
 * are lenient by design (they accept what a scraper tolerates) and unmaintained for years; a test
 * must instead fail on anything a strict reader would refuse. It throws on: a malformed line, a
 * bad metric or label name, a bad escape, a value that is not a float, a family without HELP and
 * TYPE (or with two), samples of one family not contiguous, a sample before its TYPE, and a
 * duplicate series (same name and labels).
 */

export type PrometheusType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface PrometheusSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface PrometheusFamily {
  readonly name: string;
  readonly help: string;
  readonly type: PrometheusType;
  readonly samples: PrometheusSample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set<PrometheusType>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
/** Sample-name suffixes a family of that type may use beside its own name. */
const SUFFIXES: Record<PrometheusType, readonly string[]> = {
  counter: [''],
  gauge: [''],
  untyped: [''],
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
};

function fail(line: number, message: string, text: string): never {
  throw new Error(`prometheus text line ${line}: ${message}: ${JSON.stringify(text.slice(0, 200))}`);
}

function parseValue(text: string, line: number, raw: string): number {
  // As Prometheus reads them (Go's ParseFloat): NaN and Inf in any case. prom-client writes `Nan`.
  if (/^nan$/i.test(text)) return Number.NaN;
  if (/^\+?inf(inity)?$/i.test(text)) return Number.POSITIVE_INFINITY;
  if (/^-inf(inity)?$/i.test(text)) return Number.NEGATIVE_INFINITY;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) fail(line, 'bad value', raw);
  return Number(text);
}

/** `{a="x",b="y"}` starting at `text[0] === '{'`: the labels and the rest after `}`. */
function parseLabels(
  text: string,
  line: number,
  raw: string,
): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {};
  let at = 1;
  for (;;) {
    if (text[at] === '}') return { labels, rest: text.slice(at + 1) };
    const eq = text.indexOf('=', at);
    if (eq < 0) fail(line, 'label without =', raw);
    const name = text.slice(at, eq);
    if (!LABEL_NAME.test(name)) fail(line, `bad label name '${name}'`, raw);
    if (Object.hasOwn(labels, name)) fail(line, `label '${name}' twice`, raw);
    if (text[eq + 1] !== '"') fail(line, 'label value not quoted', raw);
    let value = '';
    let i = eq + 2;
    for (;;) {
      const c = text[i];
      if (c === undefined) fail(line, 'unterminated label value', raw);
      if (c === '"') break;
      if (c === '\\') {
        const next = text[i + 1];
        if (next === '\\') value += '\\';
        else if (next === '"') value += '"';
        else if (next === 'n') value += '\n';
        else fail(line, 'bad escape in label value', raw);
        i += 2;
      } else {
        value += c;
        i++;
      }
    }
    labels[name] = value;
    at = i + 1;
    if (text[at] === ',') at++;
    else if (text[at] !== '}') fail(line, 'expected , or } after a label', raw);
  }
}

/** Parses an exposition; families in the order they appear. Throws on anything not strictly valid. */
export function parsePrometheusText(text: string): Map<string, PrometheusFamily> {
  const families = new Map<string, PrometheusFamily>();
  const helpSeen = new Set<string>();
  const series = new Set<string>();
  let current: PrometheusFamily | undefined;
  const lines = text.split('\n');
  if (lines.at(-1) !== '') fail(lines.length, 'the text must end with a newline', text.slice(-50));
  lines.forEach((raw, index) => {
    const line = index + 1;
    if (raw === '') return;
    if (raw.startsWith('#')) {
      const match = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(raw);
      if (!match) return; // a plain comment
      const [, kind, name, rest] = match as unknown as [string, 'HELP' | 'TYPE', string, string];
      if (!METRIC_NAME.test(name)) fail(line, `bad metric name '${name}'`, raw);
      let family = families.get(name);
      if (family && family !== current) fail(line, `family ${name} declared again further on`, raw);
      if (!family) {
        family = { name, help: '', type: 'untyped', samples: [] };
        families.set(name, family);
        current = family;
      }
      if (family.samples.length > 0) fail(line, `${kind} of ${name} after its samples`, raw);
      if (kind === 'HELP') {
        if (helpSeen.has(name)) fail(line, `second HELP for ${name}`, raw);
        helpSeen.add(name);
        (family as { help: string }).help = rest;
      } else {
        if (!TYPES.has(rest as PrometheusType)) fail(line, `unknown type '${rest}'`, raw);
        if ((family as { typed?: boolean }).typed) fail(line, `second TYPE for ${name}`, raw);
        Object.assign(family, { type: rest, typed: true });
      }
      return;
    }
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(raw);
    if (!nameMatch) fail(line, 'bad sample name', raw);
    const name = nameMatch[0];
    let rest = raw.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest, line, raw));
    const fields = rest.split(' ');
    if (fields[0] !== '' || fields.length < 2 || fields.length > 3)
      fail(line, 'expected " value [timestamp]"', raw);
    const value = parseValue(fields[1]!, line, raw);
    if (fields[2] !== undefined && !/^-?\d+$/.test(fields[2])) fail(line, 'bad timestamp', raw);
    if (!current || !SUFFIXES[current.type].some((suffix) => `${current!.name}${suffix}` === name)) {
      fail(line, `sample ${name} outside its family (current: ${current?.name ?? 'none'})`, raw);
    }
    const key = `${name}{${Object.keys(labels)
      .sort()
      .map((label) => `${label}=${JSON.stringify(labels[label])}`)
      .join(',')}}`;
    if (series.has(key)) fail(line, `duplicate series ${key}`, raw);
    series.add(key);
    current.samples.push({ name, labels, value });
  });
  for (const family of families.values()) {
    if (!helpSeen.has(family.name)) throw new Error(`prometheus text: family ${family.name} has no HELP`);
    if (!(family as { typed?: boolean }).typed)
      throw new Error(`prometheus text: family ${family.name} has no TYPE`);
  }
  return families;
}

/** The value of the one sample of `name` whose labels include `labels`; undefined if none. */
export function sampleValue(
  families: ReadonlyMap<string, PrometheusFamily>,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number | undefined {
  for (const family of families.values()) {
    for (const sample of family.samples) {
      if (sample.name !== name) continue;
      if (Object.entries(labels).every(([key, value]) => sample.labels[key] === value)) return sample.value;
    }
  }
  return undefined;
}

/** The sum of every sample of `name` whose labels include `labels` (0 if none). */
export function sampleSum(
  families: ReadonlyMap<string, PrometheusFamily>,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number {
  let sum = 0;
  for (const family of families.values()) {
    for (const sample of family.samples) {
      if (sample.name !== name) continue;
      if (Object.entries(labels).every(([key, value]) => sample.labels[key] === value)) sum += sample.value;
    }
  }
  return sum;
}
