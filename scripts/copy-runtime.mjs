// tsc compiles only TypeScript: the shell side of the runtime is copied next to it.
import { chmodSync, cpSync, readdirSync } from 'node:fs';

const from = new URL('../src/runtime/', import.meta.url);
const to = new URL('../dist/src/runtime/', import.meta.url);
cpSync(from, to, { recursive: true, filter: (src) => !src.endsWith('.ts') });
for (const file of readdirSync(to)) if (file.endsWith('.sh')) chmodSync(new URL(file, to), 0o755);
