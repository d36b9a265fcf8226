#!/usr/bin/env node
// The command line: wires commander to the command modules and turns errors into one
// line plus a hint and an exit status. Command modules are loaded lazily so that each
// command pays only for what it uses.
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { ExitCode, VenvError } from './errors.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((line) => `  $ ${line}`).join('\n')}\n`;
}

function buildProgram(): Command {
  const program = new Command('venv')
    .description('A virtualenv for the whole system: / as on the host, every system change kept in a named env.')
    .version(version, '-V, --version')
    .enablePositionalOptions()
    .showHelpAfterError('(run "venv --help" for usage)')
    .exitOverride();

  program
    .command('create')
    .description('create a new, empty env')
    .argument('<name>', 'letters, digits, ".", "_", "-"; up to 64 characters')
    .addHelpText('after', examples('venv create work'))
    .action(async (name: string) => {
      const { create } = await import('./commands/create.js');
      await create({ name });
      process.stdout.write(`created env "${name}"; enter it with: venv shell ${name}\n`);
    });

  program
    .command('shell')
    .description('start your shell in an env (created first if missing)')
    .argument('<name>', 'the env')
    .addHelpText('after', examples('venv shell work', '(work) # apt-get install -y cowsay'))
    .action(async (name: string) => {
      const { shell } = await import('./commands/enter.js');
      process.exitCode = await shell({ name });
    });

  program
    .command('run')
    .description('run one command in an env and exit with its status')
    .argument('<name>', 'the env')
    .argument('<command...>', 'the command and its arguments (after --, passed exactly)')
    .passThroughOptions()
    .addHelpText(
      'after',
      `${examples('venv run work -- make install', "venv run work -- sh -c 'echo $VENV_NAME'")}
Exit status: the command's own (128+N if a signal ended it); 125 if venv failed,
126 if the command cannot be executed, 127 if it is not found in the env.
`,
    )
    .action(async (name: string, command: string[]) => {
      const { runInEnv } = await import('./commands/enter.js');
      // With passThroughOptions commander keeps a "--" that follows <name>: it separates,
      // it is not the command (bin/venv's fast path drops it the same way).
      if (command[0] === '--') command = command.slice(1);
      process.exitCode = await runInEnv({ name, command });
    });

  program
    .command('list')
    .alias('ls')
    .description('list envs, the size of their changes and whether they are in use')
    .option('--json', 'print JSON')
    .addHelpText('after', examples('venv list', 'venv list --json'))
    .action(async (options: { json?: boolean }) => {
      const { list, formatList } = await import('./commands/list.js');
      const envs = await list();
      process.stdout.write(options.json ? `${JSON.stringify(envs, null, 2)}\n` : formatList(envs));
    });

  program
    .command('rm')
    .description('delete an env and all its changes')
    .argument('<name>', 'the env')
    .option('-f, --force', 'end the processes still running in it first')
    .addHelpText('after', examples('venv rm work', 'venv rm --force work'))
    .action(async (name: string, options: { force?: boolean }) => {
      const { rm } = await import('./commands/rm.js');
      await rm({ name, force: options.force });
      process.stdout.write(`removed env "${name}"\n`);
    });

  program
    .command('doctor')
    .description('check what this machine lacks to run envs, and how to fix it')
    .option('--json', 'print JSON')
    .addHelpText('after', examples('venv doctor'))
    .action(async (options: { json?: boolean }) => {
      const { doctor, formatDoctor } = await import('./commands/doctor.js');
      const report = doctor();
      process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : formatDoctor(report));
      if (!report.ok) process.exitCode = ExitCode.venvFailure;
    });

  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    process.exitCode = reportError(error);
  }
}

function reportError(error: unknown): number {
  if (error instanceof CommanderError) {
    // commander has printed the message already; help and version are not failures.
    return error.exitCode === 0 ? 0 : ExitCode.venvFailure;
  }
  if (error instanceof VenvError) {
    process.stderr.write(`venv: error: ${error.message}\n`);
    if (error.hint) process.stderr.write(`hint: ${error.hint}\n`);
    return error.exitCode;
  }
  process.stderr.write(
    `venv: internal error (a bug, please report it):\n${(error as Error)?.stack ?? String(error)}\n`,
  );
  return ExitCode.venvFailure;
}

await main(process.argv);
