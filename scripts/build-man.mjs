#!/usr/bin/env node
// `npm run build`'s last step: venv(1) from the CLI's own definitions (src/cli/man-page.ts),
// into dist/man/venv.1, which package.json's "man" field installs with `npm install -g`.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';

const dist = new URL('../dist/', import.meta.url);
const { buildProgram } = await import(new URL('src/cli.js', dist));
const { manPage } = await import(new URL('src/cli/man-page.js', dist));
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
// Reproducible when asked (SOURCE_DATE_EPOCH), else the day of the build.
const epoch = process.env.SOURCE_DATE_EPOCH;
const date = (epoch ? new Date(Number(epoch) * 1000) : new Date()).toISOString().slice(0, 10);

const description = [
  "venv shell NAME (no root needed) gives a shell in which / looks like this machine's, but every change to the system (packages installed, files edited in /etc, /usr or anywhere else) lands in the env NAME and nowhere else. Your home directory, /tmp, /proc, /sys and /dev stay the machine's own. Leave the shell and the system is as it was; enter again and the changes are back.",
  'Env names are letters, digits, ".", "_" and "-", not starting with "." or "-", at most 64 characters. "venv help COMMAND" (or "venv COMMAND --help") shows the same text as the sections below.',
].join('\n\n');

const sections = [
  [
    'EXIT STATUS',
    [
      "0\tsuccess; also when the reader of venv's output went away (venv diff work | head -1)",
      "the command's\tvenv run and venv shell exit with the command's status (128+N if signal N ended it)",
      '125\tvenv itself failed, the command line included: one line "venv: error: ..." on stderr, often followed by one "hint: ..."',
      '126\tthe command was found in the env but cannot be executed',
      '127\tthe command was not found in the env',
      '130\ta long operation (commit, restore, snapshot, rollback, rm) was interrupted; the message says whether the change was made',
    ].join('\n'),
  ],
  [
    'ENVIRONMENT',
    [
      'VENV_HOME\twhere envs live (default: $XDG_DATA_HOME/venv, else ~/.local/share/venv); it must be yours and writable by nobody else',
      'VENV_BACKEND\tthe backend of new envs: overlay or fuse-overlayfs (default: the fastest that runs here)',
      'VENV_MOUNT_TIMEOUT\tseconds an env may take to mount (default 30)',
      "VENV_DEBUG\tset to 1 to see a bug's stack trace (and the cause of errors) instead of one line",
    ].join('\n'),
  ],
  [
    'FILES',
    "$VENV_HOME/envs/NAME\tone directory per env, mode 0700: its changes (upper/), its run state (run/)\n$VENV_HOME/snapshots/NAME\tthe env's snapshots",
  ],
  ['SEE ALSO', 'unshare(1), nsenter(1), fuse-overlayfs(1); the README and docs/ of venv.'],
];

mkdirSync(new URL('man/', dist), { recursive: true });
writeFileSync(new URL('man/venv.1', dist), manPage(buildProgram(), { version, date, description, sections }));
