// The header-order matrix: extended headers (pax 'x', GNU long name 'L', long link 'K',
// global 'g') in every order and combination before one entry. Each header names the
// entry differently, and the name in the entry's own ustar block is a dangerous one (below
// the archive's symlink "lnk", or an opaque marker at the top), so that a tar reading
// the headers otherwise than the filter did writes somewhere the filter never checked.
import { Type } from '../../src/archive/tar-header.js';
import { endOfArchive, entryHeader } from '../../src/archive/tar-write.js';
import { entry, members, metaHeader, paxData } from './tar-fixtures.js';

export type Meta = 'x' | 'L' | 'K' | 'g';
/** marker-named: a regular file whose own ustar name is the opaque marker at the top. */
export type Target = 'file' | 'marker-named' | 'symlink' | 'marker';

export interface OrderCase {
  /** "x L file", ... */
  title: string;
  metas: Meta[];
  target: Target;
  /** What the filter must read: undefined when it must refuse the archive. */
  expected?: { path: string; linkpath?: string; type: string };
}

/** Every sequence of the four kinds, repeats included, up to `length` long. */
export function sequences(length: number): Meta[][] {
  let found: Meta[][] = [[]];
  let last: Meta[][] = [[]];
  for (let n = 1; n <= length; n++) {
    last = last.flatMap((seq) => (['x', 'L', 'K', 'g'] as Meta[]).map((meta) => [...seq, meta]));
    found = [...found, ...last];
  }
  return found;
}

const USTAR: Record<Target, { path: string; linkpath: string }> = {
  file: { path: 'lnk/ustar', linkpath: '' },
  'marker-named': { path: '.wh..wh..opq', linkpath: '' },
  symlink: { path: 'lnk/ustar-sym', linkpath: 'ustar-target' },
  marker: { path: '.wh..wh..opq', linkpath: '' },
};

/** The name the n-th header of a kind gives the entry. */
function named(kind: 'x' | 'L', target: Target, n: number): string {
  const tag = kind === 'x' ? 'pax' : 'long';
  if (target === 'marker') return `d/.wh.${tag}-${n}`;
  return `d/${tag}${target === 'symlink' ? '-sym' : ''}-${n}`;
}

/**
 * The reading venv documents: at most one header of each kind per entry, no global header
 * between them; then pax over GNU long names over the ustar block (as GNU tar reads one
 * of each). The ustar names are all refused, so an entry named by none of the others is.
 */
function expectedReading(metas: Meta[], target: Target): OrderCase['expected'] {
  const count = (kind: Meta) => metas.filter((meta) => meta === kind).length;
  if (count('x') > 1 || count('L') > 1 || count('K') > 1) return undefined;
  const firstOwn = metas.findIndex((meta) => meta !== 'g');
  if (firstOwn !== -1 && metas.slice(firstOwn).includes('g')) return undefined;
  if (count('x') === 0 && count('L') === 0) return undefined;
  const path = count('x') ? named('x', target, 0) : named('L', target, 0);
  if (target === 'marker') return { path: path.replace('.wh.', ''), type: Type.chardev };
  if (target !== 'symlink') return { path, type: Type.file };
  const linkpath = count('x') ? 'pax-target-0' : count('K') ? 'long-target-0' : USTAR.symlink.linkpath;
  return { path, linkpath, type: Type.symlink };
}

export function orderCase(metas: Meta[], target: Target): OrderCase {
  return { title: `${[...metas, target].join(' ')}`, metas, target, expected: expectedReading(metas, target) };
}

/** The archive: a directory "d", a symlink "lnk" to `outside`, then the headers and the entry. */
export function orderArchive(test: OrderCase, outside: string): Buffer {
  const seen: Record<Meta, number> = { x: 0, L: 0, K: 0, g: 0 };
  const metas = test.metas.map((kind) => {
    const n = seen[kind]++;
    if (kind === 'g') return metaHeader('g', paxData([['comment', `global ${n}`]]));
    if (kind === 'L') return metaHeader('L', Buffer.from(`${named('L', test.target, n)}\0`));
    if (kind === 'K') return metaHeader('K', Buffer.from(`long-target-${n}\0`));
    // Every other pax header sets no name at all: GNU tar keeps only the last of several.
    const records: [string, string][] =
      n % 2 === 1
        ? [['mtime', '1700000000.5']]
        : [
            ['path', named('x', test.target, n)],
            ...(test.target === 'symlink' ? [['linkpath', `pax-target-${n}`] as [string, string]] : []),
          ];
    return metaHeader('x', paxData(records));
  });
  const own = USTAR[test.target];
  const type = test.target === 'symlink' ? Type.symlink : Type.file;
  return Buffer.concat([
    members([entry('d', { type: Type.dir, mode: 0o755 })], [entry('lnk', { type: Type.symlink, linkpath: outside })]),
    ...metas,
    entryHeader(entry(own.path, { type, linkpath: own.linkpath })),
    endOfArchive(),
  ]);
}
