// The machine a benchmark ran on, printed above its tables: numbers mean little without it.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, userInfo } from 'node:os';

function firstMatch(file: string, args: string[], pattern: RegExp): string {
  const result = spawnSync(file, args, { encoding: 'utf8' });
  const text = `${result.stdout ?? ''}\n${result.stderr ?? ''}`;
  return pattern.exec(text)?.[1] ?? 'unknown';
}

function distribution(): string {
  try {
    return /^PRETTY_NAME="?([^"\n]*)/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The filesystem under a directory: file creation speed there drives the untar rows. */
function filesystemOf(dir: string): string {
  const result = spawnSync('findmnt', ['-n', '-o', 'FSTYPE,SOURCE', '-T', dir], { encoding: 'utf8' });
  const line = result.stdout?.trim().split('\n')[0] ?? '';
  return line.replace(/\s+/, ' on ') || 'unknown';
}

/** A markdown list describing the machine, the tools' versions, the user and the time. */
export function describeMachine(scratch: string): string {
  const cores = cpus();
  const load = loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');
  const lines = [
    `- date: ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}`,
    `- CPU: ${cores.length} × ${cores[0]?.model.trim() ?? 'unknown'}; memory ${(totalmem() / 2 ** 30).toFixed(0)} GiB`,
    `- system: ${distribution()}, kernel ${release()}`,
    `- fuse-overlayfs ${firstMatch('fuse-overlayfs', ['--version'], /fuse-overlayfs: version (\S+)/)}, ` +
      `util-linux ${firstMatch('unshare', ['--version'], /util-linux (\S+)/)}, node ${process.version}`,
    `- run as ${userInfo().username} (uid ${userInfo().uid}); load average at start: ${load}`,
    `- scratch dir (VENV_HOME, host side of the workloads; TMPDIR moves it): ${scratch}, ${filesystemOf(scratch)}`,
  ];
  return `${lines.join('\n')}\n`;
}
