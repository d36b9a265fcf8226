// A refused or unreadable archive. A VenvError, so the CLI prints it as one line; its own
// class so that a pipeline can tell "the archive is bad" from "a program failed".
import { type ErrorCode, VenvError } from '../errors.js';

export class ArchiveError extends VenvError {
  constructor(code: Extract<ErrorCode, `ARCHIVE_${string}`>, message: string, hint?: string) {
    super(code, message, { hint });
    this.name = 'ArchiveError';
  }
}
