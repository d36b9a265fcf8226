import { type Check, chooseMapping, hostChecks } from '../host.js';
import { venvHome } from '../paths.js';

export interface DoctorReport {
  ok: boolean;
  venvHome: string;
  mapping: ReturnType<typeof chooseMapping>;
  checks: Check[];
}

export function doctor(): DoctorReport {
  const checks = hostChecks();
  return {
    ok: checks.every((check) => check.ok || !check.required),
    venvHome: venvHome(),
    mapping: chooseMapping(),
    checks,
  };
}

const MAPPING_TEXT = {
  auto: 'your id as root plus your subordinate ids: chown inside works, apt and dpkg run cleanly',
  single: 'only your own id, as root: chown to other ids fails inside, so apt and dpkg print warnings',
  host: 'none: you are real root, envs use the kernel overlayfs',
} as const;

export function formatDoctor(report: DoctorReport): string {
  const lines = report.checks.map((check) => {
    const mark = check.ok ? 'ok  ' : check.required ? 'FAIL' : 'warn';
    const fix = check.ok || !check.fix ? '' : `\n        fix: ${check.fix}`;
    return `${mark}  ${check.name}: ${check.detail}${fix}`;
  });
  lines.push('', `envs live in ${report.venvHome}`, `ids mapped in new envs: ${MAPPING_TEXT[report.mapping]}`);
  lines.push(report.ok ? 'this machine can run envs' : 'this machine cannot run envs until the FAIL lines are fixed');
  return `${lines.join('\n')}\n`;
}
