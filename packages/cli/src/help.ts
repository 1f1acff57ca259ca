/**
 * `tork COMMAND --help`: one helper for every command. A command describes each option of the very
 * object it hands to `parseArgs`; the types make a new option without help text (or, where the
 * object gives no default, without a stated default) a compile error.
 */
import { availableParallelism } from 'node:os';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { availableCores, defaultPeerHosts } from '@tork/workers/available-cores';
import type { CliIo } from './io.js';

/** How `--help` shows a default of `os.availableParallelism()`. */
export const CORES = `${availableParallelism()}, the cores available`;

/**
 * How `--help` shows the default number of peer hosts (`--workers`): `defaultPeerHosts()`, the
 * cores available (affinity mask, capped by a cgroup CPU quota) but the coordinator's, at least 1.
 */
export const PEER_HOSTS = `${defaultPeerHosts()}: the ${availableCores()} cores available (affinity, cgroup quota) less 1 for the coordinator, at least 1`;

type OptionSpec = NonNullable<ParseArgsConfig['options']>[string];
export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

export interface OptionHelp {
  /** The value's placeholder (string options), e.g. `N`, `DIR`. */
  readonly arg?: string;
  /** What the option does, short: one line. */
  readonly text: string;
  /** The default as the user should read it; overrides the one in the options object. */
  readonly default?: string;
  /** The command cannot run without it. */
  readonly required?: true;
}

/** An option whose `parseArgs` spec has no default must say what happens without it. */
type HelpOf<S> = S extends { readonly default: unknown }
  ? OptionHelp
  : OptionHelp & ({ readonly default: string } | { readonly required: true });

export interface CommandHelp<O extends OptionSpecs> {
  /** The one-line `usage: tork …` string (the top-level `tork --help` shows it too). */
  readonly usage: string;
  /** What the command does: one or more lines. */
  readonly summary: string;
  /** The object the command passes to `parseArgs`. */
  readonly options: O;
  readonly help: { readonly [K in keyof O]: HelpOf<O[K]> };
}

/** Any command's help, its options' types forgotten (what the printer and the command list need). */
export interface AnyCommandHelp {
  readonly usage: string;
  readonly summary: string;
  readonly options: OptionSpecs;
  readonly help: Readonly<Record<string, OptionHelp>>;
}

/**
 * `-h`/`--help` anywhere before a `--`: alone, in a group of short flags (`-qh`), or where an option's
 * value should be (`--out --help`); not as an inline value (`--comment=--help`).
 */
export function wantsHelp(args: readonly string[], options: OptionSpecs): boolean {
  return optionTokens(args, options).some(
    (token) =>
      token.name === 'help' ||
      // `--out --help`: strict parsing refuses a dash-led value taken from the next argument anyway.
      (!token.inlineValue && (token.value === '--help' || token.value === '-h')),
  );
}

/** The options among `args` as `parseArgs` sees them, unknown ones and missing values included (nothing thrown). */
export function optionTokens(args: readonly string[], options: OptionSpecs) {
  const { tokens } = parseArgs({
    args: [...args],
    options: { ...options, help: { type: 'boolean', short: 'h' } },
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  return tokens.flatMap((token) => (token.kind === 'option' ? [token] : []));
}

function defaultOf(spec: OptionSpec, help: OptionHelp): string {
  if (help.required) return '[required]';
  const value = help.default ?? spec.default;
  const shown =
    value === undefined || value === '' ? 'none' : value === false ? 'off' : value === true ? 'on' : value;
  return `[default: ${Array.isArray(shown) ? shown.join(',') : shown}]`;
}

/** The text `tork COMMAND --help` prints: usage, what it does, every option with its default. */
export function helpText(command: AnyCommandHelp): string {
  const rows: Array<[string, string]> = Object.entries(command.options).map(([name, spec]) => {
    const help = command.help[name]!;
    const flag = `${spec.short ? `-${spec.short}, ` : ''}--${name}${help.arg ? ` ${help.arg}` : ''}`;
    const repeat = spec.multiple ? ', may be repeated' : '';
    return [flag, `${help.text}${repeat} ${defaultOf(spec, help)}`];
  });
  rows.push(['-h, --help', 'print this text and exit']);
  const width = Math.min(Math.max(...rows.map(([flag]) => flag.length)), 26);
  const lines = rows.map(([flag, text]) => `  ${flag.padEnd(width)}  ${text}`);
  return `${command.usage}\n\n${command.summary}\n\noptions:\n${lines.join('\n')}\n`;
}

/** Prints the command's help to stdout when the arguments ask for it; true then (the command returns 0). */
export function printedHelp(args: readonly string[], io: CliIo, command: AnyCommandHelp): boolean {
  if (!wantsHelp(args, command.options)) return false;
  io.stdout(helpText(command));
  return true;
}
