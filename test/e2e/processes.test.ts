// Processes in an env: its /proc is its own pid namespace's (runtime/env-proc.sh), so ps,
// top, pgrep, pkill and kill see and act on the env's processes with their pids in the
// env, in every session of it; the host's processes are not there; the machine-wide files
// of /proc still tell the machine's truth. And venv refuses to run inside an env.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { e2eSetup, skipReason } from '../helpers/e2e.js';
import { spawnVenv, VENV_BIN, CLI_JS, waitForOutput } from '../helpers/venv-cli.js';

const e2e = e2eSetup('procs');

async function inEnv(script: string): Promise<string> {
  if (!existsSync(e2e.envDir('procs'))) await e2e.create('procs');
  const result = await e2e.venv(['run', 'procs', '--', 'sh', '-c', script]);
  assert.equal(result.exitCode, 0, `${script}\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

describe('processes in an env', { skip: skipReason }, () => {
  test("ps lists the env's processes with their env pids, and no host process", async () => {
    // A host process with a name found nowhere else.
    const host = spawn('sleep', ['3013'], { stdio: 'ignore' });
    try {
      const out = await inEnv(
        'echo "self $$ $(ps -o pid= -p $$)"; ps -e -o pid=,args=; ps aux >/dev/null && echo aux-ok',
      );
      const [self, ...rest] = out.trim().split('\n');
      const [, shellPid, psPid] = self?.split(/\s+/) ?? [];
      assert.equal(psPid, shellPid, 'ps finds the shell under its own pid');
      assert.ok(Number(shellPid) < 100, `an env pid is small: ${shellPid}`);
      assert.equal(rest.pop(), 'aux-ok');
      assert.match(rest[0] ?? '', /^\s*1 /, "pid 1 is the env's anchor");
      assert.equal(rest.filter((line) => line.includes('sleep 3013')).length, 0, 'the host process is not seen');
      assert.ok(rest.length < 15, `only the env's few processes: ${rest.join('\n')}`);
      const visible = await inEnv(
        `test -e /proc/${host.pid}/cmdline && cat /proc/${host.pid}/cmdline | tr '\\0' ' '; echo`,
      );
      assert.doesNotMatch(visible, /sleep 3013/);
    } finally {
      host.kill('SIGKILL');
    }
  });

  test("pgrep, pkill -x and kill act on the env's processes", async () => {
    const out = await inEnv(
      'sleep 301 & a=$!; sleep 302 & b=$!; echo "$a $(pgrep -x -f "sleep 301")"; pkill -x -f "sleep 301"; wait $a; echo "pkill $?"; kill $b; wait $b; echo "kill $?"; pgrep -x sleep || echo none',
    );
    const [pair, pkill, kill, none] = out.trim().split('\n');
    const [started, found] = pair?.split(' ') ?? [];
    assert.equal(found, started, 'pgrep gives the pid the shell started');
    assert.equal(pkill, 'pkill 143', 'pkill ended it (SIGTERM)');
    assert.equal(kill, 'kill 143');
    assert.equal(none, 'none');
  });

  test("top runs, and /proc/sys, /proc/meminfo and /proc/cpuinfo are the machine's", async () => {
    const out = await inEnv(
      'top -b -n 1 >/dev/null && echo top-ok; cat /proc/sys/kernel/osrelease; grep MemTotal /proc/meminfo; grep -c ^processor /proc/cpuinfo',
    );
    const cpus = readFileSync('/proc/cpuinfo', 'utf8').match(/^processor/gm)?.length ?? 0;
    const memTotal = readFileSync('/proc/meminfo', 'utf8').match(/^MemTotal:.*$/m)?.[0];
    assert.equal(out, `top-ok\n${readFileSync('/proc/sys/kernel/osrelease', 'utf8')}${memTotal}\n${cpus}\n`);
  });

  test("a second session sees the first one's processes under the same pids, and can end them", async () => {
    if (!existsSync(e2e.envDir('procs'))) await e2e.create('procs');
    const first = spawnVenv(e2e.home, [
      'run',
      'procs',
      '--',
      'sh',
      '-c',
      'sleep 303 & echo "started $!"; wait; echo ended',
    ]);
    await waitForOutput(first, 'started');
    const second = await inEnv('pgrep -x sleep; pkill -x sleep; echo done');
    const result = await first;
    const started = /started (\d+)/.exec(result.stdout)?.[1];
    assert.equal(second, `${started}\ndone\n`);
    assert.match(result.stdout, /ended\n$/);
  });
});

describe('venv inside an env', { skip: skipReason }, () => {
  test('every command refuses with one line and status 125, on both paths in, and makes nothing', async () => {
    const script = `for args in "list" "create x" "run procs true" "shell procs" "--version" "rm procs"; do
      "$1" $args </dev/null; echo "status $?"; done; node "$2" create y; echo "status $?"`;
    if (!existsSync(e2e.envDir('procs'))) await e2e.create('procs');
    const out = await e2e.venv(['run', 'procs', '--', 'sh', '-c', script, 'sh', VENV_BIN, CLI_JS], {
      env: { VENV_HOME: e2e.home },
    });
    assert.equal(out.exitCode, 0, out.stderr);
    assert.equal(out.stdout, 'status 125\n'.repeat(7));
    const lines = out.stderr.trim().split('\n');
    assert.equal(lines.length, 7, out.stderr);
    for (const line of lines)
      assert.equal(line, 'venv: error: venv does not run inside an env (this is env "procs"): run it on the host');
    assert.equal(existsSync(e2e.envDir('x')), false);
    assert.equal(existsSync(e2e.envDir('y')), false);
    assert.equal(existsSync(e2e.envDir('procs')), true);
  });
});
