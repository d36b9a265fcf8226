// Building and reading small tar archives in tests, with venv's own writer and reader.
import { type TarEntry, Type } from '../../src/archive/tar-header.js';
import { parseTar, type TarItem } from '../../src/archive/tar-parse.js';
import { endOfArchive, entryHeader, padding } from '../../src/archive/tar-write.js';

export function entry(path: string, fields: Partial<TarEntry> = {}): TarEntry {
  return {
    path,
    type: Type.file,
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: 0,
    mtime: '1700000000',
    linkpath: '',
    devmajor: 0,
    devminor: 0,
    xattrs: new Map(),
    ...fields,
  };
}

/** Entries and their contents as tar bytes, without the end of the archive. */
export function members(...list: [TarEntry, string?][]): Buffer {
  const parts: Buffer[] = [];
  for (const [header, content = ''] of list) {
    const data = Buffer.from(content);
    parts.push(
      entryHeader({ ...header, size: header.type === Type.file ? data.length : 0 }),
      data,
      padding(data.length),
    );
  }
  return Buffer.concat(parts);
}

/** A whole archive from entries and their contents. */
export function archive(...list: [TarEntry, string?][]): Buffer {
  return Buffer.concat([members(...list), endOfArchive()]);
}

export async function read(bytes: Buffer, chunk = 7): Promise<{ entry: TarEntry; data: string }[]> {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += chunk) chunks.push(bytes.subarray(at, at + chunk));
  const found: { entry: TarEntry; data: string }[] = [];
  for await (const item of parseTar(chunks) as AsyncIterable<TarItem>) {
    if (item.kind === 'entry') found.push({ entry: item.entry, data: '' });
    else (found[found.length - 1] as { data: string }).data += item.chunk.toString('latin1');
  }
  return found;
}

/** pax records ("LEN key=value\n"), written here independently of tar-write.ts. */
export function paxData(records: [string, string][]): Buffer {
  return Buffer.concat(
    records.map(([key, value]) => {
      const body = ` ${key}=${value}\n`;
      let length = body.length + 1;
      while (String(length).length + body.length > length) length += 1;
      return Buffer.from(`${length}${body}`, 'latin1');
    }),
  );
}

/**
 * An extended header as producers write one before an entry: 'x' (pax, for the next
 * entry), 'g' (pax, global), 'L' (GNU long name) or 'K' (GNU long link name), with its data.
 */
export function metaHeader(type: 'x' | 'g' | 'L' | 'K', data: Buffer): Buffer {
  const name = type === 'L' || type === 'K' ? '././@LongLink' : `PaxHeaders/${type}`;
  return Buffer.concat([entryHeader(entry(name, { type, size: data.length })), data, padding(data.length)]);
}
