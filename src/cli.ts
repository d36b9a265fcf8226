#!/usr/bin/env node
// The command line: wires commander to the command modules and turns errors into one
// line plus a hint and an exit status. Command modules are loaded lazily so that each
// command pays only for what it uses.
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { ExitCode, VenvError } from './errors.js';
import { reportError } from './cli/report-error.js';
import { refuseInsideEnv } from './host/inside-env.js';
import { isBrokenPipe, stdoutClosed, stdoutFailure, watchStdout } from './cli/stdout-closed.js';
import { throwUsageErrors } from './cli/usage-error.js';
import { isQuiet, say, setQuiet, warn } from './cli/output.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const BACKEND_HELP =
  'how the env is mounted: "overlay" (the kernel\'s, fast) or "fuse-overlayfs" (default: VENV_BACKEND, else the fastest that runs here)';

/** Said when an env is made without subordinate ids (docs/packages.md, "Users"). */
const SINGLE_MAPPING_WARNING =
  'no subordinate ids: only root exists in this env (useradd works, but su, runuser and chown to other users fail with "cannot set groups" or "Invalid argument"); run "venv doctor" for the fix';

const NET_HELP =
  '"host" (the host\'s network, the default), "none" (only a loopback of its own) or "private" (a network of its own with outbound access, through slirp4netns)';
const PUBLISH_HELP =
  'with --net private: forward HOST_PORT on the host (127.0.0.1 unless HOST_ADDRESS is given) to ENV_PORT in the env (tcp); repeatable';
const SHARE_HELP =
  'which of the host\'s home, tmp and run the env shares: a list such as "home,tmp", "all" (the default) or "none"';
const VOLUME_HELP = 'bind the host directory HOST_PATH to ENV_PATH in the env (":ro": read-only); repeatable';
const PKGDB_SYNC_HELP =
  '"auto" (the default: on entry, merge the host\'s package changes into the env\'s own dpkg database when nothing needs deciding) or "manual" (only warn)';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((line) => `  $ ${line}`).join('\n')}\n`;
}

/** Asks the question `ask` makes (if any) when stdin is a terminal and not `yes`: see cli/confirm.ts. */
async function confirmIf(yes: boolean | undefined, ask: () => Promise<string | undefined>): Promise<void> {
  if (yes || !process.stdin.isTTY) return;
  const question = await ask();
  if (question === undefined) return;
  const { confirm } = await import('./cli/confirm.js');
  await confirm(question);
}

/** Runs `work` with a progress bar on stderr when it is a terminal (and not --quiet). */
async function withProgress<T>(
  label: string,
  work: (onProgress?: (done: number, total: number) => void) => Promise<T>,
) {
  const { progressOnTerminal } = await import('./cli/progress-bar.js');
  const bar = progressOnTerminal(label);
  try {
    return await work(bar?.update);
  } finally {
    bar?.finish();
  }
}

/** Every command, as `--help`, the man page and the completions show them. */
export function buildProgram(): Command {
  const program = new Command('venv')
    .description('A virtualenv for the whole system: / as on the host, every system change kept in a named env.')
    .version(version, '-V, --version')
    .enablePositionalOptions()
    .helpCommand(false)
    .addHelpText(
      'after',
      examples(
        'venv shell work                      # a shell in env "work", made if missing',
        'venv run work -- apt-get install -y cowsay',
        'venv diff work',
        'venv commit work -o work.tar.zst     # the changes as an OCI layer',
        'venv restore work.tar.zst copy',
        'venv doctor                          # what this machine lacks',
        'venv rm -q -y old                    # -q (--quiet): only errors, on any command',
      ),
    )
    .exitOverride()
    // VENV_HOME must be the user's own before anything in it is read or written (doctor
    // reports it instead of refusing).
    .hook('preAction', async (_program, action) => {
      setQuiet(Boolean(action.opts().quiet));
      if (['doctor', 'help', 'completion'].includes(action.name())) return;
      const { guardVenvHome } = await import('./store/home-trust.js');
      guardVenvHome();
    });

  program
    .command('create')
    .description('create a new, empty env')
    .argument('<name>', 'letters, digits, ".", "_", "-"; up to 64 characters')
    .option('--backend <backend>', BACKEND_HELP)
    .option('--from <env>', 'start as ENV is now: its changes become a layer both share (ENV must not be in use)')
    .option(
      '--base <source>',
      "stand on SOURCE instead of the host's /: a root file system's directory, a tarball of one, or an OCI image (layout directory, oci-archive or docker-archive)",
    )
    .option('--net <mode>', NET_HELP)
    .option('--share <list>', SHARE_HELP)
    .option('--volume <HOST_PATH:ENV_PATH[:ro]>', VOLUME_HELP, collect, [])
    .option('--publish <[HOST_ADDRESS:]HOST_PORT:ENV_PORT>', PUBLISH_HELP, collect, [])
    .option('--pkgdb-sync <mode>', PKGDB_SYNC_HELP)
    .addHelpText(
      'after',
      examples(
        'venv create work',
        'venv create --pkgdb-sync manual pinned',
        'venv create --backend fuse-overlayfs old-style',
        'venv create --share none --net none untrusted',
        'venv create --net private --publish 8080:80 web',
        'venv create --volume ~/src:/src --volume /srv/data:/data:ro build',
        'venv create --from compilers try-1   # stacked on env "compilers"',
        'venv create --base ./bookworm-rootfs.tar.zst old   # on another root file system',
      ),
    )
    .action(
      async (
        name: string,
        options: {
          backend?: string;
          from?: string;
          base?: string;
          net?: string;
          share?: string;
          volume: string[];
          publish: string[];
          pkgdbSync?: string;
        },
      ) => {
        const { create } = await import('./commands/create.js');
        const meta = await withProgress(`importing base ${options.base ?? ''}`, (onProgress) =>
          create({
            name,
            backend: options.backend,
            from: options.from,
            base: options.base,
            net: options.net,
            share: options.share,
            volumes: options.volume,
            publish: options.publish,
            pkgdbSync: options.pkgdbSync,
            onProgress: options.base === undefined ? undefined : onProgress,
          }),
        );
        const on = meta.base === undefined ? '' : ` on base ${meta.base}`;
        say(`created env "${name}"${on}; enter it with: venv shell ${name}\n`);
        if (meta.mapping === 'single') warn(SINGLE_MAPPING_WARNING);
      },
    );

  program
    .command('config')
    .description("show an env's settings, or change them while it is not in use")
    .argument('<name>', 'the env')
    .option('--net <mode>', NET_HELP)
    .option('--share <list>', SHARE_HELP)
    .option('--volume <HOST_PATH:ENV_PATH[:ro]>', `${VOLUME_HELP}; replaces one at the same ENV_PATH`, collect, [])
    .option('--rm-volume <ENV_PATH>', 'drop the volume at ENV_PATH; repeatable', collect, [])
    .option(
      '--publish <[HOST_ADDRESS:]HOST_PORT:ENV_PORT>',
      `${PUBLISH_HELP}; replaces one on the same HOST_PORT`,
      collect,
      [],
    )
    .option('--rm-publish <HOST_PORT>', 'stop publishing HOST_PORT; repeatable', collect, [])
    .option('--pkgdb-sync <mode>', PKGDB_SYNC_HELP)
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      `${examples('venv config work', 'venv config work --net none', 'venv config work --volume /srv/data:/data:ro', 'venv config work --rm-volume /data --share all', 'venv config web --net private --publish 8080:80 --publish 0.0.0.0:8443:443', 'venv config web --rm-publish 8080', 'venv config work --pkgdb-sync manual', 'venv config --json work')}
Settings take effect at the env's next start; they are changed only while it is not in use.
`,
    )
    .action(
      async (
        name: string,
        options: {
          net?: string;
          share?: string;
          volume: string[];
          rmVolume: string[];
          publish: string[];
          rmPublish: string[];
          pkgdbSync?: string;
          json?: boolean;
        },
      ) => {
        const { config } = await import('./commands/config.js');
        const { formatSettings } = await import('./store/env-settings.js');
        const result = await config({
          name,
          net: options.net,
          share: options.share,
          volumes: options.volume,
          removeVolumes: options.rmVolume,
          publish: options.publish,
          removePublish: options.rmPublish,
          pkgdbSync: options.pkgdbSync,
        });
        process.stdout.write(
          options.json ? `${JSON.stringify(result.settings, null, 2)}\n` : formatSettings(result.settings),
        );
      },
    );

  program
    .command('shell')
    .description('start your shell in an env (created first if missing)')
    .argument('<name>', 'the env')
    .option('--user <user>', "as this user of the env (USER[:GROUP], names from the env's /etc/passwd; root: 0)")
    .addHelpText(
      'after',
      examples('venv shell work', '(work) # apt-get install -y cowsay', 'venv shell --user root app'),
    )
    .action(async (name: string, options: { user?: string }) => {
      const { shell } = await import('./commands/enter.js');
      process.exitCode = await shell({ name, quiet: isQuiet(), user: options.user });
    });

  program
    .command('run')
    .description('run one command in an env and exit with its status')
    .argument('<name>', 'the env')
    .argument('<command...>', 'the command and its arguments (after --, passed exactly)')
    .option('--user <user>', "as this user of the env (USER[:GROUP], names from the env's /etc/passwd; root: 0)")
    .passThroughOptions()
    .addHelpText(
      'after',
      `${examples('venv run work -- make install', "venv run work -- sh -c 'echo $VENV_NAME'", 'venv run --user 1000:1000 app -- id')}
Exit status: the command's own (128+N if a signal ended it); 125 if venv failed,
126 if the command cannot be executed, 127 if it is not found in the env.
`,
    )
    .action(async (name: string, command: string[], options: { user?: string }) => {
      const { runInEnv } = await import('./commands/enter.js');
      // passThroughOptions keeps a "--" that follows the name: it is the separator, not
      // the command (bin/venv's fast path drops it the same way).
      const argv = command[0] === '--' ? command.slice(1) : command;
      process.exitCode = await runInEnv({ name, command: argv, quiet: isQuiet(), user: options.user });
    });

  program
    .command('list')
    .alias('ls')
    .description('list envs, the size of their changes and whether they are in use')
    .option('--json', 'print JSON')
    .addHelpText('after', examples('venv list', 'venv list --json'))
    .action(async (options: { json?: boolean }) => {
      const { list, formatList } = await import('./commands/list.js');
      const { progressOnTerminal } = await import('./cli/progress-bar.js');
      // Sizes take a stat per entry of every env's changes: seconds for big envs.
      const bar = progressOnTerminal('measuring envs', { unit: 'entries', delayMs: 300 });
      let envs: Awaited<ReturnType<typeof list>>;
      try {
        envs = await list({ onProgress: bar?.update });
      } finally {
        bar?.finish();
      }
      process.stdout.write(options.json ? `${JSON.stringify(envs, null, 2)}\n` : formatList(envs));
    });

  program
    .command('rm')
    .description('delete envs, all their changes and their snapshots (asks first on a terminal)')
    .argument('<name...>', 'the envs')
    .option('-f, --force', 'end the processes still running in them first, and say which')
    .option('-y, --yes', 'do not ask')
    .addHelpText('after', examples('venv rm work', 'venv rm -y old older', 'venv rm --force work'))
    .action(async (names: string[], options: { force?: boolean; yes?: boolean }) => {
      const { rm } = await import('./commands/rm.js');
      const { endedLine, rmQuestion } = await import('./cli/destructive.js');
      await confirmIf(options.yes, () => rmQuestion(names, options.force));
      // Each name on its own, as podman does: one that fails (missing, in use) is reported
      // and the others are removed; the status is that of the last failure.
      for (const name of new Set(names)) {
        try {
          await rm({ name, force: options.force, onEnding: (ended) => say(endedLine(name, ended), process.stderr) });
          say(`removed env "${name}"\n`);
        } catch (error) {
          if (names.length === 1 || (error instanceof VenvError && error.code === 'INTERRUPTED')) throw error;
          process.exitCode = reportError(error);
        }
      }
    });

  program
    .command('sync-pkgdb')
    .description("take the host's package changes into an env's own dpkg database, keeping the env's")
    .argument('<name>', 'the env (not in use)')
    .option('-n, --dry-run', 'show what would change, write nothing')
    .addHelpText(
      'after',
      `${examples('venv sync-pkgdb work', 'venv sync-pkgdb --dry-run work')}
Needed when the host installed, upgraded or removed packages after the env first changed
its dpkg database ("venv list" shows "own, host changed"). A package changed on both
sides keeps the env's state, and is reported. Entering the env does this by itself when
no session is inside and no package changed on both sides, unless the env's setting says
otherwise ("venv config NAME --pkgdb-sync manual").
`,
    )
    .action(async (name: string, options: { dryRun?: boolean }) => {
      const { syncPkgDb, formatSyncReport } = await import('./commands/sync-pkgdb.js');
      const report = await syncPkgDb({ name, dryRun: options.dryRun });
      process.stdout.write(formatSyncReport(report, options.dryRun));
    });

  program
    .command('diff')
    .description('list what an env changed on top of the host, path by path')
    .argument('<name>', 'the env')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      `${examples('venv diff work', 'venv diff --json work')}
Kinds: added, added dir, modified, deleted, replaced (the type changed, or a directory
was emptied and made anew), and symlink, fifo, socket for new entries of those types.
`,
    )
    .action(async (name: string, options: { json?: boolean }) => {
      const { diff, formatDiff } = await import('./commands/diff.js');
      const { progressOnTerminal } = await import('./cli/progress-bar.js');
      const bar = progressOnTerminal(`diffing ${name}`, { unit: 'entries', delayMs: 300 });
      let changes: Awaited<ReturnType<typeof diff>>;
      try {
        changes = await diff({ name, onProgress: bar?.update });
      } finally {
        bar?.finish();
      }
      process.stdout.write(options.json ? `${JSON.stringify(changes, null, 2)}\n` : formatDiff(changes));
    });

  program
    .command('apply')
    .description("write an env's changes onto the host's file system (asks first on a terminal)")
    .argument('<name>', 'the env (not in use)')
    .argument('[path...]', 'apply only what is at or below these paths (absolute, as seen inside the env)')
    .option('-n, --dry-run', 'show what would be applied, write nothing')
    .option('-f, --force', 'overwrite host files that changed after the env took its copy of them')
    .option('--clear', "then remove what was applied from the env's changes (not for an env made with --from)")
    .option('-y, --yes', 'do not ask')
    .addHelpText(
      'after',
      `${examples('venv apply work', 'venv apply --dry-run work', 'venv apply work /etc/nginx /opt/tool', 'venv apply -y --force work /etc/hosts', "venv apply --clear work   # the env then shows the host's files again", 'sudo venv apply -y rootenv')}
As an ordinary user, only where you may write (else nothing is applied, and what you may
not write is named); as root, owners and devices too. Host files that changed after the
env took its copy are refused, named, unless --force. A stacked env applies its layers'
changes too. The env must not be in use; it is left as it is unless --clear.
`,
    )
    .action(
      async (
        name: string,
        pathArgs: string[],
        options: { dryRun?: boolean; force?: boolean; clear?: boolean; yes?: boolean },
      ) => {
        const { apply } = await import('./commands/apply.js');
        const { formatOps } = await import('./apply/apply-plan.js');
        const show = (text: string) => (options.dryRun ? process.stdout.write(text) : say(text));
        const result = await withProgress(`applying ${name}`, (onProgress) =>
          apply({
            name,
            paths: pathArgs,
            dryRun: options.dryRun,
            force: options.force,
            clear: options.clear,
            onPlan: (ops) => show(formatOps(ops)),
            confirm: (ops) =>
              confirmIf(options.yes, async () => {
                const count = ops.length === 1 ? 'this change' : `these ${ops.length} changes`;
                return `apply ${count} of env "${name}" to the host?`;
              }),
            onProgress,
          }),
        );
        const count = result.ops.length === 1 ? '1 change' : `${result.ops.length} changes`;
        const layers = result.layers
          ? ` (with those of the ${result.layers === 1 ? 'layer' : `${result.layers} layers`} it stands on)`
          : '';
        if (result.ops.length === 0) say(`env "${name}" has nothing to apply${pathArgs.length ? ' there' : ''}\n`);
        else if (!result.applied)
          say(`would apply ${count} of env "${name}"${layers} (--dry-run: nothing was written)\n`);
        else
          say(
            `applied ${count} of env "${name}"${layers} to the host${options.clear ? '; removed them from the env' : ''}\n`,
          );
        for (const left of result.left) warn(left);
      },
    );

  program
    .command('commit')
    .description("write an env's changes as an OCI image layer tarball")
    .argument('<name>', 'the env')
    .option('-o, --output <file>', 'the file to write, "-" for stdout (default: ./NAME.tar.zst)')
    .option('--compress <kind>', 'zstd, gzip or none', 'zstd')
    .option('--live', 'commit even while the env is in use (the archive is marked as possibly inconsistent)')
    .option('--flatten', 'for an env made with --from: the changes of the envs it stands on too, not only its own')
    .addHelpText(
      'after',
      `${examples('venv commit work', 'venv commit work -o /tmp/work.tar.gz --compress gzip', 'venv commit work -o - | ssh other-host venv restore - work', 'venv commit --flatten try-1 -o try-1.tar.zst   # its layers and changes as one', 'venv commit --live work -o /backups/')}
The format is described in docs/archive-format.md.
`,
    )
    .action(async (name: string, options: { output?: string; compress: string; live?: boolean; flatten?: boolean }) => {
      const { commit } = await import('./commands/commit.js');
      const { progressOnTerminal } = await import('./cli/progress-bar.js');
      const bar = progressOnTerminal(`committing ${name}`);
      try {
        const result = await commit({
          name,
          output: options.output,
          compression: options.compress as 'zstd',
          live: options.live,
          flatten: options.flatten,
          onProgress: bar?.update,
        });
        bar?.finish();
        const { formatBytes } = await import('./cli/format-bytes.js');
        const line = `sha256:${result.sha256}  ${result.output}  (${formatBytes(result.bytes)})\n`;
        say(line, result.output === '-' ? process.stderr : process.stdout);
        if (options.live && result.live) warn('the env was in use; the archive may be inconsistent');
      } finally {
        bar?.finish();
      }
    });

  program
    .command('restore')
    .description('make an env from an OCI image layer tarball (zstd, gzip or not compressed)')
    .argument('<file>', 'the tarball, or - for stdin')
    .argument('[name]', 'the env to create (default: the file name without .tar.zst)')
    .option(
      '-f, --force',
      'replace the changes of an existing env of that name (never one in use; asks first on a terminal)',
    )
    .option('-y, --yes', 'do not ask')
    .option('--backend <backend>', `${BACKEND_HELP}; a replaced env keeps its own`)
    .option(
      '--max-size <size>',
      'refuse an archive that expands past SIZE (500M, 2G, ...); default: the free space less 5% of the filesystem (at most 1 GiB)',
    )
    .addHelpText(
      'after',
      examples(
        'venv restore work.tar.zst',
        'venv restore --force work.tar.zst work',
        'venv restore -y --force work.tar.zst work    # no question',
        'venv restore --backend fuse-overlayfs work.tar.zst old-style',
        'venv restore --max-size 2G big.tar.zst',
        'ssh build-host venv commit work -o - | venv restore - work',
      ),
    )
    .action(
      async (
        file: string,
        name: string | undefined,
        options: { force?: boolean; yes?: boolean; backend?: string; maxSize?: string },
      ) => {
        const { restore, nameFromFile } = await import('./commands/restore.js');
        if (options.force && file !== '-') {
          const { restoreQuestion } = await import('./cli/destructive.js');
          await confirmIf(options.yes, () => restoreQuestion(name ?? nameFromFile(file), file));
        }
        const { parseSize } = await import('./archive/size-limit.js');
        const maxSize = options.maxSize === undefined ? undefined : parseSize(options.maxSize);
        const { force, backend } = options;
        const label = `restoring ${name ?? (file === '-' ? 'from stdin' : nameFromFile(file))}`;
        const result = await withProgress(label, (onProgress) =>
          restore({ file, name, force, backend, maxSize, onProgress }),
        );
        say(
          `${result.replaced ? 'replaced the changes of' : 'created'} env "${result.name}" from ${file} (${result.entries} entries); enter it with: venv shell ${result.name}\n`,
        );
      },
    );

  // The snapshot itself is this command's own action, so that its help shows NAME, TAG and
  // --live; "rm" is its one subcommand (an env named "rm" cannot be snapshotted by name).
  const snapshotCommand = program
    .command('snapshot')
    .description("save an env's current state (or remove a saved one: snapshot rm)")
    .usage('[--live] <name> [tag]\n       venv snapshot rm <name> <tag>')
    .argument('<name>', 'the env')
    .argument('[tag]', 'a name for the snapshot (default: the time, e.g. 20250102-150405)')
    .option('--live', 'take it even while the env is in use (it is marked as possibly inconsistent)')
    .addHelpText(
      'after',
      `${examples('venv snapshot work', 'venv snapshot work before-upgrade', 'venv snapshot --live work', 'venv snapshot rm work before-upgrade')}
Snapshots are listed by "venv snapshots NAME" and restored by "venv rollback NAME TAG".
`,
    )
    .action(async (name: string, tag: string | undefined, options: { live?: boolean }) => {
      const { snapshot } = await import('./commands/snapshot.js');
      const { formatBytes } = await import('./cli/format-bytes.js');
      const taken = await withProgress(`saving a snapshot of ${name}`, (onProgress) =>
        snapshot({ name, tag, live: options.live, onProgress }),
      );
      say(`saved snapshot "${taken.tag}" of env "${name}" (${formatBytes(taken.bytes)})\n`);
      if (taken.live) warn('the env was in use; the snapshot may be inconsistent');
    });
  snapshotCommand
    .command('rm')
    .description('remove a snapshot')
    .argument('<name>', 'the env')
    .argument('<tag>', 'the snapshot')
    .addHelpText('after', examples('venv snapshot rm work before-upgrade'))
    .action(async (name: string, tag: string) => {
      const { snapshotRm } = await import('./commands/snapshot.js');
      await snapshotRm({ name, tag });
      say(`removed snapshot "${tag}" of env "${name}"\n`);
    });

  // `venv bases` lists; rm and prune are its subcommands.
  const basesCommand = program
    .command('bases')
    .description('list the stored bases (create --base) with the envs that stand on each')
    .usage('[--json]\n       venv bases rm <id...>\n       venv bases prune')
    .option('--json', 'print JSON')
    .addHelpText('after', examples('venv bases', 'venv bases --json', 'venv bases rm 3f2a', 'venv bases prune'))
    .action(async (options: { json?: boolean }) => {
      const { listBases } = await import('./commands/bases.js');
      const { venvHome } = await import('./store/paths.js');
      const found = await listBases(venvHome());
      if (options.json) {
        process.stdout.write(`${JSON.stringify(found, null, 2)}\n`);
        return;
      }
      const { formatBases } = await import('./cli/format-bases.js');
      process.stdout.write(formatBases(found));
    });
  basesCommand
    .command('rm')
    .description('remove stored bases that no env stands on (refused, naming the envs, for one in use)')
    .argument('<id...>', 'the base ids, or unique prefixes of at least 4 digits ("venv bases" lists them)')
    .addHelpText('after', examples('venv bases rm 3f2a9c01d4e5b6a7', 'venv bases rm 3f2a 77c0'))
    .action(async (ids: string[]) => {
      const { removeBases } = await import('./commands/bases.js');
      const { venvHome } = await import('./store/paths.js');
      for (const id of await removeBases(venvHome(), ids)) say(`removed base ${id}\n`);
    });
  basesCommand
    .command('prune')
    .description('remove every stored base that no env stands on')
    .addHelpText('after', examples('venv bases prune'))
    .action(async () => {
      const { pruneBases } = await import('./commands/bases.js');
      const { venvHome } = await import('./store/paths.js');
      const removed = await pruneBases(venvHome());
      say(removed.length === 0 ? 'no unused base\n' : removed.map((id) => `removed base ${id}\n`).join(''));
    });

  program
    .command('snapshots')
    .description("list an env's snapshots, oldest first")
    .argument('<name>', 'the env')
    .option('--json', 'print JSON')
    .addHelpText('after', examples('venv snapshots work', 'venv snapshots --json work'))
    .action(async (name: string, options: { json?: boolean }) => {
      const { snapshots } = await import('./commands/snapshot.js');
      const { formatSnapshots } = await import('./snapshots/format.js');
      const found = await snapshots({ name });
      process.stdout.write(options.json ? `${JSON.stringify(found, null, 2)}\n` : formatSnapshots(name, found));
    });

  program
    .command('rollback')
    .description('put an env back in the state of one of its snapshots (asks first on a terminal)')
    .argument('<name>', 'the env')
    .argument('<tag>', 'the snapshot ("venv snapshots NAME" lists them)')
    .option('-f, --force', "end the env's processes first if it is in use, and say which")
    .option('-y, --yes', 'do not ask')
    .addHelpText('after', examples('venv rollback work before-upgrade', 'venv rollback -y --force work before-upgrade'))
    .action(async (name: string, tag: string, options: { force?: boolean; yes?: boolean }) => {
      const { rollback } = await import('./commands/snapshot.js');
      const { endedLine, rollbackQuestion } = await import('./cli/destructive.js');
      await confirmIf(options.yes, () => rollbackQuestion(name, tag, options.force));
      const onEnding = (ended: { pid: number; command: string }[]) => say(endedLine(name, ended), process.stderr);
      await withProgress(`rolling ${name} back to ${tag}`, (onProgress) =>
        rollback({ name, tag, force: options.force, onEnding, onProgress }),
      );
      say(`env "${name}" is back to snapshot "${tag}"\n`);
    });

  program
    .command('doctor')
    .description("check what this machine lacks to run envs, and the envs' package databases")
    .argument('[name]', 'check only this env')
    .option('--json', 'print JSON')
    .addHelpText('after', examples('venv doctor', 'venv doctor work', 'venv doctor --json'))
    .action(async (name: string | undefined, options: { json?: boolean }) => {
      const { doctor, formatDoctor } = await import('./commands/doctor.js');
      const report = await doctor({ name });
      process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : formatDoctor(report));
      if (!report.ok) process.exitCode = ExitCode.venvFailure;
    });

  program
    .command('completion')
    .description('print a script that completes venv commands, options, env names and snapshot tags')
    .argument('<shell>', 'bash, zsh or fish')
    .addHelpText(
      'after',
      `${examples(
        'venv completion bash > ~/.local/share/bash-completion/completions/venv',
        'venv completion zsh > ~/.zfunc/_venv     # with fpath+=(~/.zfunc) before compinit in ~/.zshrc',
        'venv completion fish > ~/.config/fish/completions/venv.fish',
        'source <(venv completion bash)           # this shell only',
      )}
Env names and snapshot tags are read from VENV_HOME by the shell itself, at each Tab.
`,
    )
    .action(async (shell: string) => {
      const { completionScript } = await import('./cli/completion-scripts.js');
      process.stdout.write(completionScript(program, shell));
    });

  program
    .command('help')
    .description('show the help of venv, of a command, or of a subcommand')
    .argument('[command...]', 'a command, and a subcommand of it')
    .addHelpText('after', examples('venv help', 'venv help run', 'venv help snapshot rm'))
    .action((words: string[]) => {
      let command = program;
      for (const word of words) {
        const sub = command.commands.find((c) => c.name() === word || c.aliases().includes(word));
        if (!sub) {
          const known = command === program ? 'venv' : `venv ${words.slice(0, words.indexOf(word)).join(' ')}`;
          throw new VenvError('USAGE', `no command "${words.join(' ')}"`, {
            hint: `run "${known} --help" for the commands`,
          });
        }
        command = sub;
      }
      command.outputHelp();
    });

  addQuiet(program);
  return program;
}

/** -q/--quiet on every command, subcommands included (output.ts says what it silences). */
function addQuiet(command: Command): void {
  for (const sub of command.commands) {
    sub.option('-q, --quiet', 'print nothing but errors and the data asked for (no messages, warnings or progress)');
    addQuiet(sub);
  }
}

export async function main(argv: string[]): Promise<void> {
  watchStdout();
  const program = buildProgram();
  throwUsageErrors(program);
  try {
    refuseInsideEnv();
    await program.parseAsync(argv);
  } catch (error) {
    // The reader went away (`| head -1`): what it wanted was written.
    if (stdoutClosed() && isBrokenPipe(error)) return;
    process.exitCode = reportError(error);
    if (process.exitCode !== 0) return;
  }
  // A failed write to a file is reported on the next tick (> /dev/full, a full disk).
  await new Promise((resolve) => setImmediate(resolve));
  const failure = stdoutFailure();
  if (failure) {
    const why = (failure as NodeJS.ErrnoException).code === 'ENOSPC' ? 'no space left on the device' : failure.message;
    process.exitCode = reportError(
      new VenvError('IO_FAILED', `cannot write the output: ${why}`, {
        hint: 'what was written is incomplete',
        cause: failure,
      }),
    );
  }
}

// Run as the program (not imported, as scripts/build-man.mjs does to render the man page).
if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main(process.argv);
}
