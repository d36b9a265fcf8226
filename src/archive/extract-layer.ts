// Extracting an untrusted OCI layer into a fresh directory that becomes an upper dir:
//   FILE -> decompressor (told from the bytes) -> restore-filter.js (checks every entry,
//   writes every header anew) -> GNU tar -x in a user namespace with the env's mapping
// so that owners and 0/0 whiteout devices can be created. tar only ever sees the stream
// venv wrote; the checks run as the bytes arrive, so an unsafe entry stops everything
// before it reaches tar, and the caller deletes the half-filled directory.
// The three run as one shell pipeline: its pipes are plain blocking ones, which the
// filter reads and writes with one buffer (node's own pipes would double the cost).
import { type BackendName, opaqueXattr } from '../backends/backend.js';
import type { Readable } from 'node:stream';
import type { Mapping } from '../host/host-checks.js';
import { highestMappedId, inUserns } from '../host/userns.js';
import { ArchiveError } from './archive-error.js';
import { openSource } from './archive-source.js';
import { allDone, NO_SPACE, start } from './child.js';
import { decompressor, detectCompression } from './compression.js';
import type { ExtractStats } from './oci-to-upper.js';
import type { FilterOptions } from './restore-filter.js';
import { freeSpaceLimit } from './size-limit.js';
import { VenvError } from '../errors.js';
import { widenPipesScript } from './wide-pipes.js';
import { fdPosition, pollProgress, type ProgressReport } from './progress-probe.js';
import { fstatSync } from 'node:fs';

export interface ExtractOptions {
  /** The archive file, or "-" for stdin. */
  file: string;
  /** An existing, empty directory. */
  into: string;
  mapping: Mapping;
  /** The env's backend: the form its upper dir keeps opaque directories in. */
  backend: BackendName;
  /** The most bytes the archive may expand to (--max-size); default: the free space less a margin. */
  maxSize?: number;
  signal?: AbortSignal;
  /** Bytes of the archive file read so far, and its size (not called for stdin). */
  onProgress?: ProgressReport;
  /** Leave device nodes out rather than refuse them (a base's root file system). */
  dropDevices?: boolean;
}

export function tarExtractArgs(into: string): string[] {
  return [
    '--extract',
    '--file=-',
    // Records of 1 MiB rather than 10 KiB: tar reads the stream and writes each file at
    // most a record at a time (docs/archive-format.md#speed).
    '--record-size=1M',
    `--directory=${into}`,
    '--numeric-owner',
    '--same-owner',
    '--same-permissions',
    '--xattrs',
    '--xattrs-include=*',
  ];
}

// $1 decompressor ("cat" for none), $2 node, $3 restore-filter.js, $4 its options, $5 the
// perl that widens the filter's pipes ("" for none: wide-pipes.ts), then tar.
// Every stage dies with the shell (setpriv), the shell with venv (child.ts).
const PIPELINE = `set -u
unzip=$1 node=$2 filter=$3 options=$4 widen=$5
shift 5
filter() {
  [ -z "$widen" ] || exec setpriv --pdeathsig KILL -- perl -e "$widen" "$node" "$filter" "$options"
  exec setpriv --pdeathsig KILL -- "$node" "$filter" "$options"
}
{ if [ "$unzip" = cat ]; then cat; else "$unzip" -d -c; fi; echo "venv-unzip $?" >&2; } |
  filter |
  setpriv --pdeathsig KILL -- "$@"`;

interface Report {
  filter?: string;
  /** "ID DIGEST": the base the archive was made on (base-note.ts). */
  base?: string;
  unzip?: number;
  other: string[];
}

function watch(stderr: Readable): Report {
  const report: Report = { other: [] };
  let partial = '';
  stderr.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.startsWith('venv-filter ')) report.filter = line.slice('venv-filter '.length);
      else if (line.startsWith('venv-base ')) report.base = line.slice('venv-base '.length);
      else if (line.startsWith('venv-unzip ')) report.unzip = Number(line.slice('venv-unzip '.length));
      else if (line.trim()) report.other = [...report.other.slice(-9), line];
    }
  });
  return report;
}

/** The error that explains a failed pipeline best: the filter's, the decompressor's, tar's. */
function explain(report: Report, failure: unknown): Error {
  const filter = /^error (\S+)\t([^\t]*)\t(.*)$/.exec(report.filter ?? '');
  if (filter) {
    const [, code = 'IO_FAILED', message = '', hint = ''] = filter;
    if (code.startsWith('ARCHIVE_')) return new ArchiveError(code as 'ARCHIVE_INVALID', message, hint || undefined);
    return new VenvError('IO_FAILED', `restore failed: ${message}`);
  }
  if (report.unzip !== undefined && report.unzip !== 0 && report.unzip !== 141) {
    const why = report.other.filter((line) => !line.startsWith('tar:')).pop() ?? `exit status ${report.unzip}`;
    return new ArchiveError('ARCHIVE_INVALID', `the archive does not decompress: ${why}`);
  }
  const tarLines = report.other.filter((line) => line.startsWith('tar:'));
  if (tarLines.some((line) => line.endsWith(NO_SPACE))) {
    return new VenvError('IO_FAILED', 'restore failed: no space left on the device that holds VENV_HOME', {
      hint: 'free some space there and restore again; nothing was restored',
    });
  }
  // tar goes on after most errors and ends with "Exiting with failure status ...": the
  // first line that names an entry says what went wrong.
  const named = tarLines.map((line) => /^tar: (.+?): (Cannot .+)$/.exec(line)).find((match) => match !== null);
  if (named) {
    return new VenvError('IO_FAILED', `extraction failed at entry "${named[1]}": ${named[2]}`, {
      hint: 'nothing was restored',
    });
  }
  const tar = tarLines[0];
  if (tar) return new VenvError('IO_FAILED', `extraction failed: ${tar}`);
  return failure instanceof Error ? failure : new VenvError('IO_FAILED', String(failure));
}

export async function extractLayer(options: ExtractOptions): Promise<ExtractStats> {
  const input = await openSource(options.file);
  try {
    const compression = detectCompression(input.head);
    const filterOptions: FilterOptions = {
      opaqueXattr: opaqueXattr(options.backend, options.mapping),
      maxId: await highestMappedId(options.mapping),
      dropDevices: options.dropDevices,
      limit:
        options.maxSize === undefined ? freeSpaceLimit(options.into) : { bytes: options.maxSize, source: 'max-size' },
    };
    const script = new URL('./restore-filter.js', import.meta.url).pathname;
    const tar = inUserns(options.mapping, ['tar', ...tarExtractArgs(options.into)]);
    const unzip = decompressor(compression)?.[0] ?? 'cat';
    const filterArgs = [process.execPath, script, JSON.stringify(filterOptions), widenPipesScript()];
    const pipeline = start('sh', ['-c', PIPELINE, 'venv-restore', unzip, ...filterArgs, tar[0], ...tar[1]], {
      stdio: [input.stdin, 'ignore', 'pipe'],
      env: { ...process.env, LC_ALL: 'C' },
    });
    const report = watch(pipeline.process.stderr as Readable);
    // A file's offset is shared with the decompressor reading it: how far the restore is.
    const fd = input.stdin;
    const size = typeof fd === 'number' && options.onProgress ? fstatSync(fd).size : 0;
    const stopProgress =
      typeof fd === 'number' && options.onProgress
        ? pollProgress(
            () => fdPosition(fd),
            () => size,
            options.onProgress,
          )
        : () => undefined;
    const feeding = pipeline.process.stdin ? input.feed(pipeline.process.stdin) : Promise.resolve();
    try {
      await allDone(
        [pipeline],
        feeding.catch(() => undefined),
        options.signal,
      );
    } catch (error) {
      if (options.signal?.aborted) throw error;
      throw explain(report, error);
    } finally {
      stopProgress();
    }
    const ok = /^ok (\d+) (\d+)$/.exec(report.filter ?? '');
    // 141 (SIGPIPE): the filter stops reading soon after the end of the archive.
    if (!ok || ![0, 141].includes(report.unzip ?? 0))
      throw explain(report, new VenvError('IO_FAILED', 'the restore filter did not finish'));
    const [baseId, baseDigest] = report.base?.split(' ') ?? [];
    return {
      entries: Number(ok[1]),
      bytes: Number(ok[2]),
      ...(baseId && baseDigest ? { base: { id: baseId, digest: baseDigest } } : {}),
    };
  } finally {
    input.close();
  }
}
