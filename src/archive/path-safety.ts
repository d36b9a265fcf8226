// Path checks for archive members, which come from an untrusted tarball. Pure functions:
// the restore filter calls them for every entry before the entry reaches tar.
import { ArchiveError } from './archive-error.js';
import { shown } from './tar-parse.js';

export const LIMITS = {
  /** Bytes in a member path or link target (PATH_MAX less the terminating NUL). */
  pathBytes: 4095,
  /** Bytes in one path component (NAME_MAX). */
  nameBytes: 255,
  /** Components in a member path. Deep trees are a way to exhaust the extractor. */
  depth: 128,
} as const;

function unsafe(path: string, why: string): ArchiveError {
  return new ArchiveError(
    'ARCHIVE_UNSAFE_PATH',
    `refusing the archive: entry "${shown(path)}" ${why}`,
    'the archive may have been made to write outside the env; nothing was restored',
  );
}

const SLASH = 0x2f;
const DOT = 0x2e;

/**
 * The member path relative to the archive root: "./" prefixes and trailing slashes go,
 * anything that could leave the tree is refused. "" stands for the root itself.
 * One pass over the characters: it runs for every entry of every restore.
 */
export function memberPath(raw: string): string {
  if (raw.charCodeAt(0) === SLASH) throw unsafe(raw, 'is an absolute path');
  let start = 0;
  while (raw.startsWith('./', start)) {
    start += 2;
    while (raw.charCodeAt(start) === SLASH) start++;
  }
  let end = raw.length;
  while (end > start && raw.charCodeAt(end - 1) === SLASH) end--;
  if (end === start || (end === start + 1 && raw.charCodeAt(start) === DOT)) return '';
  if (end - start > LIMITS.pathBytes) throw unsafe(raw, `has a path longer than ${LIMITS.pathBytes} bytes`);
  let depth = 0;
  for (let from = start; from <= end;) {
    let to = from;
    while (to < end && raw.charCodeAt(to) !== SLASH) {
      if (raw.charCodeAt(to) === 0) throw unsafe(raw, 'has a NUL byte in its name');
      to++;
    }
    const length = to - from;
    const first = raw.charCodeAt(from);
    if (length === 2 && first === DOT && raw.charCodeAt(from + 1) === DOT) throw unsafe(raw, 'contains ".."');
    if (length === 0 || (length === 1 && first === DOT)) throw unsafe(raw, 'has an empty or "." component');
    if (length > LIMITS.nameBytes) throw unsafe(raw, `has a name longer than ${LIMITS.nameBytes} bytes`);
    if (++depth > LIMITS.depth) throw unsafe(raw, `is nested deeper than ${LIMITS.depth} directories`);
    from = to + 1;
  }
  return start === 0 && end === raw.length ? raw : raw.slice(start, end);
}

/** Every proper ancestor of a member path, nearest last ("a/b/c" -> "a", "a/b"). */
export function ancestors(path: string): string[] {
  const parts = path.split('/');
  const found: string[] = [];
  for (let i = 1; i < parts.length; i++) found.push(parts.slice(0, i).join('/'));
  return found;
}

/**
 * Checks a symlink target. Absolute targets are fine: they resolve against the env's
 * root inside the env, and extraction never follows a symlink (no entry may be written
 * below one). A relative target that climbs above the archive root is refused.
 */
export function checkSymlink(path: string, target: string): void {
  if (target === '') throw unsafe(path, 'is a symlink with an empty target');
  if (target.includes('\0')) throw unsafe(path, 'is a symlink whose target has a NUL byte');
  if (target.length > LIMITS.pathBytes) throw unsafe(path, `is a symlink with a target over ${LIMITS.pathBytes} bytes`);
  if (target.startsWith('/')) return;
  let depth = path.split('/').length - 1;
  for (const part of target.split('/')) {
    if (part === '..') depth -= 1;
    else if (part !== '' && part !== '.') depth += 1;
    if (depth < 0) throw unsafe(path, `is a symlink to "${shown(target)}", which leaves the archive's tree`);
  }
}

/** A hardlink target: a member path like any other, and not the link itself. */
export function hardlinkTarget(path: string, target: string): string {
  let resolved: string;
  try {
    resolved = memberPath(target);
  } catch {
    throw unsafe(path, `is a hardlink to "${shown(target)}", which is outside the archive's tree`);
  }
  if (resolved === '' || resolved === path) throw unsafe(path, `is a hardlink to "${shown(target)}"`);
  return resolved;
}

/** The name a `.wh.NAME` whiteout deletes; refuses names that are not one component. */
export function whiteoutName(path: string, name: string): string {
  if (name === '' || name === '.' || name === '..') throw unsafe(path, 'is a whiteout of nothing');
  return name;
}

export { unsafe as unsafeEntry };
