// tsc compiles only TypeScript: the shell side of the runtime (src/runtime) and the
// backends' mount scripts (src/backends/*.sh, sourced by keeper.sh) are copied next to it.
import { chmodSync, cpSync, readdirSync } from 'node:fs';

for (const dir of ['runtime', 'backends']) {
  const from = new URL(`../src/${dir}/`, import.meta.url);
  const to = new URL(`../dist/src/${dir}/`, import.meta.url);
  cpSync(from, to, { recursive: true, filter: (src) => !src.endsWith('.ts') });
  for (const file of readdirSync(to)) if (file.endsWith('.sh')) chmodSync(new URL(file, to), 0o755);
}
