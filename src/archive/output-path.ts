// Where `venv commit -o OUT` writes, decided before any work: an existing directory (or a
// path ending in "/") gets NAME.tar.zst inside it, as cp and tar do, and a place the user
// cannot write is refused at once rather than after the whole archive was made.
import { accessSync, constants, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { VenvError } from '../errors.js';

const HINT = 'choose a place you can write (-o FILE or -o DIR), or -o - for stdout';

function statOrNothing(path: string) {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/** The absolute file to write; throws IO_FAILED (with a hint) when it cannot be written. */
export function outputPath(output: string, fileName: string, cwd = process.cwd()): string {
  const given = resolve(cwd, output);
  const stat = statOrNothing(given);
  const intoDir = stat?.isDirectory() || output.endsWith('/');
  if (intoDir && !stat) {
    throw new VenvError('IO_FAILED', `cannot write into ${given}: no such directory`, { hint: HINT });
  }
  const target = intoDir ? join(given, fileName) : given;
  const existing = intoDir ? statOrNothing(target) : stat;
  if (existing && !existing.isFile()) {
    throw new VenvError('IO_FAILED', `cannot write ${target}: it exists and is not a regular file`, { hint: HINT });
  }
  const dir = dirname(target);
  const dirStat = statOrNothing(dir);
  if (!dirStat?.isDirectory()) {
    throw new VenvError('IO_FAILED', `cannot write ${target}: no directory ${dir}`, { hint: HINT });
  }
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch {
    throw new VenvError('IO_FAILED', `cannot write ${target}: you may not write in ${dir}`, { hint: HINT });
  }
  return target;
}
