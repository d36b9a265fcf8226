// `venv snapshot`, `venv snapshots`, `venv rollback`, `venv snapshot rm`: saving an env's
// state and going back to it (see snapshots/snapshot-store.ts for the layout).
import { closeSync, constants, existsSync, mkdirSync } from 'node:fs';
import { rename as renameDir, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { AtomicFile } from '../archive/atomic-file.js';
import type { ProgressReport } from '../archive/progress-probe.js';
import { noSpaceError } from '../archive/child.js';
import { assertValidEnvName } from '../store/env-name.js';
import { describeProcesses, type EnvProcess, runningEnv } from '../store/env-state.js';
import { VenvError } from '../errors.js';
import { interruptible } from '../cli/interrupt.js';
import { withEnvLock } from '../locks/env-lock.js';
import { envPaths, venvHome } from '../store/paths.js';
import { packUpper, unpackUpper } from '../snapshots/snapshot-archive.js';
import {
  ARCHIVE_NAME,
  checkTag,
  defaultTag,
  listSnapshots,
  readSnapshot,
  type SnapshotMeta,
  snapshotDir,
  snapshotsDir,
  stagingDir,
} from '../snapshots/snapshot-store.js';
import { whileNotInUse } from '../locks/start-lock.js';
import { readMeta, removeTree } from '../store/env-store.js';
import { SafeDir } from '../store/env-files.js';
import { nextUpper, oldTreeLeft, recoverUpper, swapUpper } from '../store/upper-swap.js';

export type { SnapshotMeta };

interface EnvRef {
  name: string;
  home?: string;
}

export interface SnapshotOptions extends EnvRef {
  tag?: string;
  /** Take it even while the env is in use; it is then marked as possibly inconsistent. */
  live?: boolean;
  /** Bytes of the env's files read so far, and an estimate of the total. */
  onProgress?: ProgressReport;
}

export async function snapshot(options: SnapshotOptions): Promise<SnapshotMeta> {
  assertValidEnvName(options.name);
  const home = options.home ?? venvHome();
  const tag = options.tag ?? defaultTag();
  checkTag(tag);
  const meta = await readMeta(options.name, home);
  const paths = envPaths(options.name, home);
  return withEnvLock(paths.lockTarget, options.name, async () => {
    await recoverUpper(paths, meta.mapping);
    if (existsSync(snapshotDir(home, options.name, tag))) {
      throw new VenvError('SNAPSHOT_EXISTS', `env "${options.name}" already has a snapshot "${tag}"`, {
        hint: `pick another tag, or remove it first: venv snapshot rm ${options.name} ${tag}`,
      });
    }
    const live = Boolean(options.live) && runningEnv(options.name, home) !== undefined;
    const take = () =>
      interruptible(async (signal) => {
        // Made and written through their fds (store/env-files.ts): no link on the way is followed.
        const envSnapshots = SafeDir.open(home, `snapshots/${options.name}`, { create: 0o700 });
        const stagingName = basename(stagingDir(home, options.name, tag));
        const staging = join(snapshotsDir(home, options.name), stagingName);
        mkdirSync(envSnapshots.at(stagingName), { mode: 0o700 });
        const stagingFd = envSnapshots.dir(stagingName);
        // AtomicFile's `ln` is another process: /proc/PID, not /proc/self.
        const file = AtomicFile.open(`/proc/${process.pid}/fd/${stagingFd.fd}/${ARCHIVE_NAME}`, 0o600);
        try {
          await packUpper(paths.upper, meta.mapping, file, live, signal, options.onProgress);
          await file.publish();
          const bytes = stagingFd.lstat(ARCHIVE_NAME)?.size ?? 0;
          const record: SnapshotMeta = {
            version: 1,
            env: options.name,
            tag,
            created: new Date().toISOString(),
            bytes,
            format: 'tar.zst',
            live,
          };
          stagingFd.write('snapshot.json', `${JSON.stringify(record, null, 2)}\n`, { exclusive: true });
          envSnapshots.rename(stagingName, tag);
          return record;
        } catch (error) {
          throw noSpaceError(error, `cannot save snapshot "${tag}" of env "${options.name}"`, 'no snapshot was saved');
        } finally {
          await file.discard();
          stagingFd.close();
          envSnapshots.close();
          await rm(staging, { recursive: true, force: true });
        }
      });
    return options.live ? take() : whileNotInUse(paths, home, '--live', take);
  });
}

export async function snapshots(options: EnvRef): Promise<SnapshotMeta[]> {
  assertValidEnvName(options.name);
  const home = options.home ?? venvHome();
  await readMeta(options.name, home);
  return listSnapshots(home, options.name);
}

export interface RollbackOptions extends EnvRef {
  tag: string;
  /** End the env's processes first if it is in use. */
  force?: boolean;
  /** Told which of the user's processes `force` ends, before they are ended. */
  onEnding?: (processes: EnvProcess[]) => void;
  /** Bytes of the snapshot read so far, and its size. */
  onProgress?: ProgressReport;
}

export async function rollback(options: RollbackOptions): Promise<SnapshotMeta> {
  assertValidEnvName(options.name);
  const home = options.home ?? venvHome();
  const meta = await readMeta(options.name, home);
  const paths = envPaths(options.name, home);
  return withEnvLock(paths.lockTarget, options.name, async () => {
    await recoverUpper(paths, meta.mapping);
    const record = await readSnapshot(home, options.name, options.tag);
    // Checked again, for good, when the new tree goes in; this saves unpacking in vain.
    const running = runningEnv(options.name, home);
    if (running && !options.force) {
      throw new VenvError('ENV_BUSY', `env "${options.name}" is in use: ${describeProcesses(running)}`, {
        hint: `leave its shells first, or end them with "venv rollback --force ${options.name} ${options.tag}"`,
      });
    }
    const next = nextUpper(paths);
    await interruptible(async (signal, progress) => {
      try {
        mkdirSync(next, { mode: 0o755 });
        const snapshotFiles = SafeDir.open(snapshotDir(home, options.name, options.tag));
        const archive = (() => {
          try {
            return snapshotFiles.openExisting(ARCHIVE_NAME, constants.O_RDONLY).fd;
          } finally {
            snapshotFiles.close();
          }
        })();
        try {
          await unpackUpper(archive, next, meta.mapping, signal, options.onProgress);
        } catch (error) {
          throw noSpaceError(error, `cannot roll env "${options.name}" back`, 'the env was not changed');
        } finally {
          closeSync(archive);
        }
        await swapUpper(paths, home, meta.mapping, {
          force: options.force,
          flag: '--force',
          signal,
          onEnding: (processes) => {
            progress.ended = true;
            options.onEnding?.(processes);
          },
          onSwapped: () => {
            progress.made = `env "${options.name}" is back to snapshot "${options.tag}"`;
            progress.left = oldTreeLeft(paths, options.name);
          },
        });
        progress.left = undefined;
      } finally {
        if (existsSync(next)) await removeTree(next, meta.mapping);
      }
    });
    return record;
  });
}

export async function snapshotRm(options: EnvRef & { tag: string }): Promise<void> {
  assertValidEnvName(options.name);
  const home = options.home ?? venvHome();
  const paths = envPaths(options.name, home);
  await withEnvLock(paths.lockTarget, options.name, async () => {
    await readSnapshot(home, options.name, options.tag);
    // Renamed away first, so that a half-deleted snapshot is never listed (and a killed
    // removal is finished by the next listing, which removes stale .tmp- dirs).
    const trash = stagingDir(home, options.name, options.tag);
    await renameDir(snapshotDir(home, options.name, options.tag), trash);
    await rm(trash, { recursive: true, force: true });
  });
}
