// The type of a directory entry, from a Dirent or a Stats alike (both answer is*()).
export type FileType = 'file' | 'dir' | 'symlink' | 'fifo' | 'socket' | 'chardev' | 'blockdev';

interface TypeTests {
  isDirectory(): boolean;
  isFile(): boolean;
  isSymbolicLink(): boolean;
  isFIFO(): boolean;
  isSocket(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
}

/** undefined when the entry does not say (a Dirent with DT_UNKNOWN). */
export function fileTypeOf(entry: TypeTests): FileType | undefined {
  if (entry.isDirectory()) return 'dir';
  if (entry.isFile()) return 'file';
  if (entry.isSymbolicLink()) return 'symlink';
  if (entry.isFIFO()) return 'fifo';
  if (entry.isSocket()) return 'socket';
  if (entry.isCharacterDevice()) return 'chardev';
  if (entry.isBlockDevice()) return 'blockdev';
  return undefined;
}
