// The one form of header the restore filter lets GNU tar see. tar and the filter must
// never read an entry two ways (a pax header tar drops, a number tar parses otherwise, a
// GNU long name it applies in another order), so the filter writes every header anew with
// tar-write.ts, except where the entry's own blocks are already in the form that writer
// uses, which has one reading only:
//   - at most one pax header (type 'x'), of the records path, linkpath and mtime only,
//     each once, with plain decimal lengths, printable ASCII values and no padding inside;
//   - then a POSIX ustar block ("ustar\0" "00") of type 0, 1, 2 or 5 whose numbers
//     (mode, ids, size, mtime, checksum) are all octal digits ended by NUL as tar-write.ts
//     writes them;
//   - no GNU long name or long link, and no global header in force.
// Names need no check of their own: tar and the filter both read a name field up to its
// first NUL, and the prefix only with the POSIX magic. Owner names and device numbers are
// not read by tar here (--numeric-owner; no device types pass).
import { BLOCK, magicOf, Type } from './tar-header.js';

/** Entry types whose own headers may pass: the ones tar-write.ts writes the same way. */
const PASSED_TYPES = new Set<number>([Type.file, Type.hardlink, Type.symlink, Type.dir].map((t) => t.charCodeAt(0)));
/** The pax records that may pass: the ones tar-write.ts writes for a plain entry. */
export const PASSED_PAX_KEYS = new Set(['path', 'linkpath', 'mtime']);

/** `length - 1` octal digits, then NUL. */
function octalField(block: Buffer, offset: number, length: number): boolean {
  const end = offset + length - 1;
  for (let i = offset; i < end; i++) {
    const byte = block[i] as number;
    if (byte < 0x30 || byte > 0x37) return false;
  }
  return block[end] === 0;
}

/** A header block written as tar-write.ts writes one, of type `type` (a pax header or a passed entry). */
export function isCanonicalBlock(block: Buffer, paxHeader = false): boolean {
  if (block.length !== BLOCK || magicOf(block) !== 'posix') return false;
  const type = block[156] as number;
  if (paxHeader ? type !== Type.paxLocal.charCodeAt(0) : !PASSED_TYPES.has(type)) return false;
  return (
    octalField(block, 100, 8) &&
    octalField(block, 108, 8) &&
    octalField(block, 116, 8) &&
    octalField(block, 124, 12) &&
    octalField(block, 136, 12) &&
    // The checksum: six digits, NUL, space (as GNU tar, Python and Go write it too).
    octalField(block, 148, 7) &&
    block[155] === 0x20
  );
}

/** True when every byte is printable ASCII: GNU tar converts other pax values from UTF-8. */
export function printableAscii(value: Buffer): boolean {
  for (let i = 0; i < value.length; i++) {
    const byte = value[i] as number;
    if (byte < 0x20 || byte > 0x7e) return false;
  }
  return true;
}

/** A pax value of a passed key in the form tar-write.ts writes: mtimes as seconds[.fraction]. */
export function canonicalPaxValue(key: string, value: Buffer): boolean {
  if (value.length === 0 || !printableAscii(value)) return false;
  return key !== 'mtime' || /^\d{1,15}(\.\d{1,9})?$/.test(value.toString('latin1'));
}
