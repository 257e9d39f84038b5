// The CLI's command framework: every command declares its path ("policy apply"), options (node's util.parseArgs
// config plus a description) and, for commands that print data, its default output format. Help, usage errors,
// `-o`, exit codes and shell completion are derived from those declarations, so they cannot drift from the code.
import { parseArgs } from 'node:util';

/** Exit codes (documented in `meshlens --help` and the README). */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;      // the request failed: server error, unreachable, unreadable token or input file
export const EXIT_USAGE = 2;       // the command line is wrong

export type Format = 'json' | 'yaml' | 'table';
export const FORMATS: readonly Format[] = ['json', 'yaml', 'table'];

/** A wrong command line: printed with the command's usage, exit code 2. */
export class UsageError extends Error {}

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Placeholder of the value in help ("FILE"). */
  value?: string;
  description: string;
  /** Values offered by shell completion. */
  choices?: readonly string[];
}

export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
  readStdin(): Promise<string>;
  env: NodeJS.ProcessEnv;
}

export interface Context {
  command: Command;
  flags: Record<string, string | boolean | undefined>;
  args: string[];
  /** The -o format (the command's default when not given); only for commands with an `output` default. */
  format: Format;
  io: Io;
}

export interface Command {
  path: string[];
  /** Positional synopsis, e.g. "<id>". */
  args?: string;
  /** Number of positionals after the path the command takes: [min, max]. */
  arity?: [number, number];
  summary: string;
  /** More text for `--help`. */
  details?: string;
  options?: Record<string, OptionSpec>;
  /** Default of -o; commands without one take no -o. */
  output?: Format;
  run(ctx: Context): Promise<number | void>;
}

/** Options every command accepts (client options are ignored by `serve`, `version`, `completion` and `help`). */
export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  url: { type: 'string', value: 'URL', description: 'control plane HTTP API, http:// or https:// (env MESHLENS_URL; default http://127.0.0.1:18080)' },
  token: { type: 'string', value: 'TOKEN', description: 'admin bearer token (env MESHLENS_TOKEN)' },
  'token-file': { type: 'string', value: 'FILE', description: 'token file to take the first admin token from (env MESHLENS_TOKEN_FILE; default DIR/tokens.json)' },
  'data-dir': { type: 'string', value: 'DIR', description: 'control plane data directory (env MESHLENS_DATA_DIR; default ./.meshlens)' },
  ca: { type: 'string', value: 'FILE', description: 'PEM CA bundle to verify an https:// control plane with (env MESHLENS_CA)' },
  help: { type: 'boolean', short: 'h', description: 'this command\'s help' },
};

const OUTPUT_OPTION: OptionSpec = { type: 'string', short: 'o', value: 'FORMAT', description: 'json, yaml or table', choices: FORMATS };

export function optionsOf(command: Command | undefined): Record<string, OptionSpec> {
  return { ...(command?.output ? { output: OUTPUT_OPTION } : {}), ...(command?.options ?? {}), ...GLOBAL_OPTIONS };
}

function parseConfig(options: Record<string, OptionSpec>) {
  return Object.fromEntries(Object.entries(options).map(([name, o]) => [name, o.short ? { type: o.type, short: o.short } : { type: o.type }]));
}

/** Every option of every command: lets the first pass tell option values from command words. */
function allOptions(commands: readonly Command[]): Record<string, OptionSpec> {
  const all: Record<string, OptionSpec> = {};
  for (const command of commands) Object.assign(all, optionsOf(command));
  return all;
}

export interface Resolved { command?: Command; group?: string[]; flags: Context['flags']; args: string[] }

/**
 * Finds the command named by the leading words (options may come before it, as in `meshlens --url U policy list`),
 * then parses the line strictly against that command's options.
 */
export function resolve(commands: readonly Command[], argv: string[]): Resolved {
  let loose;
  try {
    loose = parseArgs({ args: argv, options: parseConfig(allOptions(commands)), allowPositionals: true, strict: false });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const words = loose.positionals;
  let command: Command | undefined;
  for (const candidate of commands) {
    if (candidate.path.every((part, i) => words[i] === part) && (!command || candidate.path.length > command.path.length)) command = candidate;
  }
  if (!command) {
    // A group name alone ("policy") or with --help lists its commands.
    const group = words.length > 0 && commands.some((c) => c.path.length > 1 && c.path[0] === words[0]) && words.length === 1 ? [words[0]] : undefined;
    return { group, flags: loose.values as Context['flags'], args: words };
  }
  let strict;
  try {
    strict = parseArgs({ args: argv, options: parseConfig(optionsOf(command)), allowPositionals: true, strict: true });
  } catch (error) {
    // parseArgs throws a TypeError whose message names the option; the stack means nothing to an operator.
    throw new UsageError((error as Error).message.replace(/\. To specify a positional argument starting with a '-'.*$/s, ''), { cause: command });
  }
  return { command, flags: strict.values as Context['flags'], args: strict.positionals.slice(command.path.length) };
}

export function checkArity(command: Command, args: string[]): void {
  const [min, max] = command.arity ?? [0, 0];
  if (args.length < min) throw new UsageError(`${command.path.join(' ')} needs ${command.args ?? `${min} argument(s)`}`, { cause: command });
  if (args.length > max) throw new UsageError(`unexpected argument "${args[max]}" for ${command.path.join(' ')}`, { cause: command });
}

export function formatOf(command: Command, flags: Context['flags']): Format {
  const value = flags.output;
  if (value === undefined) return command.output ?? 'json';
  if (!FORMATS.includes(value as Format)) throw new UsageError(`invalid flag: -o must be one of ${FORMATS.join(', ')}`, { cause: command });
  return value as Format;
}

// ---- help ----------------------------------------------------------------------------------------------------------

function optionLines(options: Record<string, OptionSpec>): string[] {
  const left = Object.entries(options).map(([name, o]) => `${o.short ? `-${o.short}, ` : '    '}--${name}${o.value ? ` ${o.value}` : ''}`);
  const width = Math.max(...left.map((l) => l.length)) + 2;
  return Object.values(options).map((o, i) => `  ${left[i]!.padEnd(width)}${o.description}`);
}

export function synopsis(command: Command): string {
  return `meshlens ${command.path.join(' ')}${command.args ? ` ${command.args}` : ''}`;
}

export function commandHelp(command: Command): string {
  const own = { ...(command.output ? { output: { ...OUTPUT_OPTION, description: `${OUTPUT_OPTION.description} (default ${command.output})` } } : {}), ...(command.options ?? {}) };
  const lines = [`usage: ${synopsis(command)} [options]`, '', command.summary + (command.details ? `\n\n${command.details}` : '')];
  if (Object.keys(own).length > 0) lines.push('', 'options:', ...optionLines(own));
  lines.push('', 'client options:', ...optionLines(GLOBAL_OPTIONS), '', EXIT_TEXT);
  return lines.join('\n') + '\n';
}

export const EXIT_TEXT = 'exit codes: 0 ok, 1 the request failed (server error, unreachable control plane, unreadable token or input file), 2 usage error';

export function overview(commands: readonly Command[], group?: string): string {
  const shown = commands.filter((c) => group === undefined || c.path[0] === group);
  const left = shown.map((c) => `${c.path.join(' ')}${c.args ? ` ${c.args}` : ''}`);
  const width = Math.max(...left.map((l) => l.length)) + 2;
  return [
    `usage: meshlens ${group ?? '<command>'}${group ? ' <command>' : ''} [options]   (meshlens help <command> or <command> --help for details)`,
    '',
    'commands:',
    ...shown.map((c, i) => `  ${left[i]!.padEnd(width)}${c.summary.split('\n')[0]}`),
    '',
    'client options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    EXIT_TEXT,
  ].join('\n') + '\n';
}
