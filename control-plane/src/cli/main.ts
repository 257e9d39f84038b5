// The command table and the dispatcher: resolves the command, handles help, runs it and maps failures to exit codes
// (framework.ts) with one line on stderr, never a stack trace.
import { readFileSync } from 'node:fs';
import { completionCommand } from './completion.ts';
import {
  checkArity, commandHelp, EXIT_FAILED, EXIT_OK, EXIT_USAGE, formatOf, overview, resolve, synopsis, UsageError,
  type Command, type Io,
} from './framework.ts';
import { observeCommands } from './observe.ts';
import { policyCommands } from './policy.ts';
import { render } from './output.ts';
import { serveCommand } from './serve.ts';

/** package.json sits two levels above control-plane/src in the sources, in dist/ (build:js) and in the image (/app). */
function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

const versionCommand: Command = {
  path: ['version'], summary: 'the CLI\'s version', output: 'table',
  async run(ctx) {
    const value = { version: packageVersion(), node: process.versions.node };
    ctx.io.stdout(await render(value, ctx.format, () => `meshlens ${value.version} (node ${value.node})\n`));
  },
};

// One entry per command group; a new group (e.g. the network-aware `breakers` view) adds its file's array here.
const commands: Command[] = [
  serveCommand,
  ...policyCommands,
  ...observeCommands,
  versionCommand,
];
commands.push(completionCommand(() => commands));

export function allCommands(): readonly Command[] {
  return commands;
}

export async function run(argv: string[], io: Io): Promise<number> {
  let command: Command | undefined;
  try {
    const resolved = resolve(commands, argv);
    command = resolved.command;
    const words = resolved.args;
    if (!command) {
      if (words[0] === 'help' || words.length === 0) {
        const named = words.slice(1);
        const target = commands.find((c) => c.path.join(' ') === named.join(' '));
        if (named.length > 0 && !target && !commands.some((c) => c.path[0] === named[0])) throw new UsageError(`unknown command "${named.join(' ')}"`);
        io.stdout(target ? commandHelp(target) : overview(commands, named[0]));
        return EXIT_OK;
      }
      if (resolved.group) {
        // "meshlens policy" lacks its command: a usage error unless help was asked for.
        if (resolved.flags.help) io.stdout(overview(commands, resolved.group[0]));
        else io.stderr(`meshlens: ${resolved.group[0]} needs a command\n${overview(commands, resolved.group[0])}`);
        return resolved.flags.help ? EXIT_OK : EXIT_USAGE;
      }
      throw new UsageError(`unknown command "${words.join(' ')}"`);
    }
    if (resolved.flags.help) {
      io.stdout(commandHelp(command));
      return EXIT_OK;
    }
    checkArity(command, words);
    const format = formatOf(command, resolved.flags);
    return (await command.run({ command, flags: resolved.flags, args: words, format, io })) ?? EXIT_OK;
  } catch (error) {
    if (error instanceof UsageError) {
      const target = (error.cause as Command | undefined) ?? command;
      io.stderr(`meshlens: ${error.message}\n${target ? `usage: ${synopsis(target)} [options]   (--help for details)` : 'usage: meshlens <command> [options]   (meshlens help lists the commands)'}\n`);
      return EXIT_USAGE;
    }
    io.stderr(`meshlens: ${(error as Error).message}\n`);
    return EXIT_FAILED;
  }
}
