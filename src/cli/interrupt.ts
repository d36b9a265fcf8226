// Ctrl-C, SIGTERM and SIGHUP during a long operation (commit, restore, snapshot): instead
// of dying at once, venv aborts the work, which kills its children and removes what it
// had half made in its `finally` blocks, then fails with INTERRUPTED (exit 130).
import { VenvError } from '../errors.js';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export async function interruptible<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const handler = (signal: NodeJS.Signals) => {
    received ??= signal;
    controller.abort();
  };
  for (const signal of SIGNALS) process.on(signal, handler);
  try {
    const result = await work(controller.signal);
    if (received) throw interrupted(received);
    return result;
  } catch (error) {
    if (received) throw interrupted(received);
    throw error;
  } finally {
    for (const signal of SIGNALS) process.off(signal, handler);
  }
}

function interrupted(signal: NodeJS.Signals): VenvError {
  return new VenvError('INTERRUPTED', `interrupted by ${signal}; nothing was changed`, { exitCode: 130 });
}
