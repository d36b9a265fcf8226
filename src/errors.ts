// The one place that defines how venv fails: a stable code, an exit status and a hint.
// Only src/cli.ts turns these into text.

/** Exit statuses, following env(1) and container runtimes. */
export const ExitCode = {
  ok: 0,
  /** venv itself failed (bad input, missing env, missing host feature, ...). */
  venvFailure: 125,
  /** The command was found in the env but could not be executed. */
  cannotExecute: 126,
  /** The command was not found in the env. */
  notFound: 127,
} as const;

export type ErrorCode =
  | 'USAGE'
  | 'INVALID_ENV_NAME'
  | 'ENV_NOT_FOUND'
  | 'ENV_EXISTS'
  | 'ENV_BUSY'
  | 'ENV_LOCKED'
  | 'ENV_CORRUPT'
  | 'ENV_UNSAFE_FILE'
  | 'BASE_NOT_FOUND'
  | 'VENV_HOME_UNSAFE'
  | 'USERNS_UNAVAILABLE'
  | 'FUSE_UNAVAILABLE'
  | 'TOOL_MISSING'
  | 'MOUNT_FAILED'
  | 'NAMESPACE_FAILED'
  | 'NETWORK_FAILED'
  | 'IO_FAILED'
  | 'ARCHIVE_INVALID'
  | 'ARCHIVE_UNSAFE_PATH'
  | 'ARCHIVE_UNSAFE_ENTRY'
  | 'ARCHIVE_TOO_LARGE'
  | 'INTERRUPTED'
  | 'CANCELLED'
  | 'SNAPSHOT_NOT_FOUND'
  | 'SNAPSHOT_EXISTS'
  | 'PKGDB_CONFLICT'
  | 'PKGDB_INTERRUPTED'
  | 'INSIDE_ENV'
  | 'APPLY_CONFLICT'
  | 'APPLY_REFUSED'
  | 'HOST_CHANGED';

export interface VenvErrorOptions {
  /** One line telling the user what to do next. */
  hint?: string;
  cause?: unknown;
  exitCode?: number;
}

/** A failure the user can act on: printed as one line plus a hint, never a stack. */
export class VenvError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly exitCode: number;

  constructor(code: ErrorCode, message: string, options: VenvErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VenvError';
    this.code = code;
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? ExitCode.venvFailure;
  }
}

/** Something that cannot happen if venv is right: printed with its stack. */
export class VenvBug extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VenvBug';
  }
}

export function isVenvError(error: unknown): error is VenvError {
  return error instanceof VenvError;
}
