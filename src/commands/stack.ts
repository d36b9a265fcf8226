// `venv create NEW --from ENV`: NEW starts as ENV is now, without a copy. ENV's changes
// become a layer both stand on (store/layers.ts), and each goes on in an empty upper dir
// of its own: later changes to either never show in the other, and NEW's commit, diff
// and snapshots hold only its own changes. ENV must not be in use while its upper dir is
// moved: this holds its start mutex, as rm does.
import { VenvError } from '../errors.js';
import { withEnvLock } from '../locks/env-lock.js';
import { withEnvExclusive } from '../locks/start-lock.js';
import type { EnvSettings } from '../store/env-settings.js';
import { createEnv, envExists, type EnvMeta, readMeta, writeMeta, writeRuntimeFiles } from '../store/env-store.js';
import { freezeUpper, layerDone, MAX_LAYERS } from '../store/layers.js';
import { envPaths } from '../store/paths.js';
import { recoverUpper } from '../store/upper-swap.js';

export interface StackOptions {
  name: string;
  from: string;
  backend?: string;
  settings: EnvSettings;
  home: string;
}

export async function createStacked(options: StackOptions): Promise<EnvMeta> {
  const { name, from, home } = options;
  const source = envPaths(from, home);
  const target = envPaths(name, home);
  if (name === from) throw new VenvError('USAGE', `cannot stack env "${name}" on itself`, { hint: 'pick a new name' });
  return withEnvLock(target.lockTarget, name, () =>
    withEnvLock(source.lockTarget, from, async () => {
      if (await envExists(name, home))
        throw new VenvError('ENV_EXISTS', `an env named "${name}" already exists`, {
          hint: `enter it with "venv shell ${name}", or remove it with "venv rm ${name}"`,
        });
      const meta = await readMeta(from, home);
      if (options.backend !== undefined && options.backend !== meta.backend)
        throw new VenvError('USAGE', `env "${from}" uses the ${meta.backend} backend; a stacked env keeps it`, {
          hint: `leave out --backend ${options.backend}`,
        });
      // As real root the kernel's overlay has / itself as its lower layer, and refuses a
      // second one inside it ("overlapping lowerdir path"); rootless, the lower layer is
      // the view (another filesystem) or fuse-overlayfs, which do not mind.
      if (meta.mapping === 'host')
        throw new VenvError('USAGE', `env "${from}" belongs to real root, whose envs cannot be stacked yet`, {
          hint: 'stack envs of your own user (without sudo)',
        });
      if (meta.layers.length >= MAX_LAYERS)
        throw new VenvError(
          'USAGE',
          `env "${from}" already stands on ${meta.layers.length} layers, the most venv stacks`,
          {
            hint: `commit it with --flatten and restore that into a new env instead`,
          },
        );
      return withEnvExclusive(source, home, {}, async () => {
        // A rollback or restore killed between its two renames leaves no upper dir: finish it.
        await recoverUpper(source, meta.mapping);
        const id = await freezeUpper(source, home);
        const stacked = { ...meta, layers: [id, ...meta.layers] };
        await writeRuntimeFiles(source, stacked);
        writeMeta(source, stacked);
        // From here ENV names the layer: it is kept whatever happens to NEW.
        try {
          return await createEnv(name, home, undefined, options.settings, stacked);
        } finally {
          await layerDone(home, id);
        }
      });
    }),
  );
}
