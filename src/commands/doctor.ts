import type { BackendName } from '../backends/backend.js';
import { machineChecks } from '../backends/backend-checks.js';
import { chooseBackend } from '../backends/choose-backend.js';
import { type Check, chooseMapping, type Mapping } from '../host/host-checks.js';
import { envPaths, venvHome } from '../store/paths.js';
import { PKGDB_STATE_TEXT, pkgDbState, type PkgDbState } from '../pkg/pkgdb-files.js';
import { listEnvNames, readMeta } from '../store/env-store.js';
import { homeProblem, resolveHome } from '../store/home-trust.js';

export interface DoctorOptions {
  /** Check only this env (all envs otherwise). */
  name?: string;
  home?: string;
}

export interface EnvCheck {
  name: string;
  mapping: Mapping;
  backend: BackendName;
  pkgdb: PkgDbState;
  /** False when something in the env needs the user's action (fix says what). */
  ok: boolean;
  detail: string;
  fix?: string;
}

export interface DoctorReport {
  ok: boolean;
  venvHome: string;
  mapping: ReturnType<typeof chooseMapping>;
  /** The backend new envs get here and why; undefined when none can run. */
  backend: { name: BackendName; reason: string } | undefined;
  checks: Check[];
  envs: EnvCheck[];
}

async function envCheck(name: string, home: string): Promise<EnvCheck> {
  const meta = await readMeta(name, home);
  const pkgdb = pkgDbState(envPaths(name, home), undefined, meta.base !== undefined);
  const ok = pkgdb !== 'host-changed';
  return {
    name,
    mapping: meta.mapping,
    backend: meta.backend,
    pkgdb,
    ok,
    detail: PKGDB_STATE_TEXT[pkgdb],
    ...(ok ? {} : { fix: `venv sync-pkgdb ${name}` }),
  };
}

/** VENV_HOME must be the user's own (store/home-trust.ts); every other command refuses it otherwise. */
function homeCheck(home: string): Check {
  const resolved = resolveHome(home);
  const problem = homeProblem(resolved);
  return {
    name: 'VENV_HOME',
    ok: problem === undefined,
    required: true,
    detail: problem?.detail ?? `${resolved} is yours and nobody else can write it or a directory above it`,
    ...(problem ? { fix: problem.fix } : {}),
  };
}

export async function doctor(options: DoctorOptions = {}): Promise<DoctorReport> {
  const home = options.home ?? venvHome();
  const checks = [...machineChecks(home), homeCheck(home)];
  let backend: DoctorReport['backend'];
  try {
    const choice = chooseBackend(chooseMapping(), home);
    backend = { name: choice.backend, reason: choice.reason };
  } catch {
    backend = undefined; // the failing checks say why
  }
  const envs: EnvCheck[] = [];
  if (options.name !== undefined) {
    envs.push(await envCheck(options.name, home));
  } else {
    for (const name of await listEnvNames(home)) {
      try {
        envs.push(await envCheck(name, home));
      } catch {
        // an unreadable env.json: "venv list" leaves it out too, "venv rm --force" removes it
      }
    }
  }
  return {
    ok: checks.every((check) => check.ok || !check.required),
    venvHome: home,
    mapping: chooseMapping(),
    backend,
    checks,
    envs,
  };
}

const MAPPING_TEXT = {
  auto: 'your id as root plus your subordinate ids: chown inside works, apt and dpkg run cleanly',
  single: 'only your own id, as root: chown to other ids fails inside, so apt and dpkg print warnings',
  host: 'none: you are real root, envs use the kernel overlayfs',
} as const;

/** What package managers still say in an env that maps only the user's id (docs/packages.md). */
const SINGLE_MAPPING_NOTES = [
  'package managers in envs with a single id mapping (no subordinate ids):',
  '  apt warns "chown to root:adm of file /var/log/apt/term.log failed": harmless, the log is written',
  '  dpkg fails on packages that ship files owned by another user or group',
  '    ("error setting ownership of ...: Invalid argument"): only ids that are mapped can own files',
  '  fix: give your user subordinate ids (see "subordinate ids" above), then create the env anew',
];

export function formatDoctor(report: DoctorReport): string {
  const lines = report.checks.map((check) => {
    const mark = check.ok ? 'ok  ' : check.required ? 'FAIL' : 'warn';
    const fix = check.ok || !check.fix ? '' : `\n        fix: ${check.fix}`;
    return `${mark}  ${check.name}: ${check.detail}${fix}`;
  });
  for (const env of report.envs) {
    const fix = env.fix ? `\n        fix: ${env.fix}` : '';
    lines.push(`${env.ok ? 'ok  ' : 'warn'}  env ${env.name} (${env.backend}): ${env.detail}${fix}`);
  }
  lines.push('', `envs live in ${report.venvHome}`, `ids mapped in new envs: ${MAPPING_TEXT[report.mapping]}`);
  if (report.backend) lines.push(`backend of new envs: ${report.backend.name} (${report.backend.reason})`);
  if (report.mapping === 'single' || report.envs.some((env) => env.mapping === 'single')) {
    lines.push(...SINGLE_MAPPING_NOTES);
  }
  lines.push(report.ok ? 'this machine can run envs' : 'this machine cannot run envs until the FAIL lines are fixed');
  return `${lines.join('\n')}\n`;
}
