// What the shell completions know, read from the same commander definitions as --help:
// each command's options (and which take a value), what each of its arguments is (an env,
// a snapshot tag, a file, a command to run), and the values an option can take.
import type { Command } from 'commander';
import { BACKEND_NAMES } from '../backends/backend.js';
import { COMPRESSIONS } from '../archive/compression.js';

/** What an argument is, for completing it: from its name in the definitions. */
export type ArgKind = 'env' | 'tag' | 'file' | 'command' | 'help' | 'none';

export interface CommandSpec {
  /** "create", "snapshot rm"; aliases have their own entry. */
  path: string;
  options: string[];
  /** The options that take a value ("-o", "--output", ...). */
  valued: string[];
  args: ArgKind[];
  /** The last argument takes any number of words. */
  variadic: boolean;
  subcommands: string[];
}

export interface CompletionSpec {
  commands: string[];
  globalOptions: string[];
  specs: CommandSpec[];
  /** Values of options, by flag (files when absent and the option takes a value). */
  values: Record<string, readonly string[]>;
}

function argKind(command: string, arg: string): ArgKind {
  if (arg === 'name') return command === 'create' ? 'none' : 'env';
  if (arg === 'tag') return 'tag';
  if (arg === 'file' || arg === 'path') return 'file';
  if (arg === 'command') return command === 'help' ? 'help' : 'command';
  return 'none';
}

function visible(command: Command): Command[] {
  return command.commands.filter((sub) => !(sub as unknown as { _hidden?: boolean })._hidden);
}

function specsOf(command: Command, prefix: string): CommandSpec[] {
  const specs: CommandSpec[] = [];
  for (const sub of visible(command)) {
    const options = sub.options.flatMap((o) => [o.short, o.long].filter((f): f is string => Boolean(f)));
    const valued = sub.options
      .filter((o) => o.required || o.optional)
      .flatMap((o) => [o.short, o.long].filter((f): f is string => Boolean(f)));
    const args = sub.registeredArguments.map((a) => argKind(sub.name(), a.name()));
    const variadic = sub.registeredArguments.at(-1)?.variadic ?? false;
    const subcommands = visible(sub).map((s) => s.name());
    for (const name of [sub.name(), ...sub.aliases()]) {
      const path = `${prefix}${name}`;
      specs.push({ path, options: [...options, '-h', '--help'], valued, args, variadic, subcommands });
      specs.push(...specsOf(sub, `${path} `));
    }
  }
  return specs;
}

export function completionSpec(program: Command): CompletionSpec {
  return {
    commands: visible(program).flatMap((c) => [c.name(), ...c.aliases()]),
    globalOptions: ['-h', '--help', '-V', '--version'],
    specs: specsOf(program, ''),
    values: { '--backend': BACKEND_NAMES, '--compress': COMPRESSIONS },
  };
}
