// dpkg's database file /var/lib/dpkg/status (and apt's extended_states, same format):
// deb822 stanzas separated by blank lines, one per package and architecture. Pure: parsed
// and written as text so that the merge in pkgdb-merge.ts can be tested without dpkg.

export interface Stanza {
  /** "name:arch"; arch is empty for stanzas without an Architecture field. */
  key: string;
  name: string;
  arch: string;
  /** The stanza as dpkg wrote it, without the blank line after it. */
  text: string;
}

/** Value of a field at the start of a line ("Field: value"); continuation lines are not part of it. */
export function fieldValue(text: string, field: string): string | undefined {
  const prefix = `${field.toLowerCase()}:`;
  for (const line of text.split('\n')) {
    if (line.toLowerCase().startsWith(prefix)) return line.slice(prefix.length).trim();
  }
  return undefined;
}

export function parseStatus(text: string): Map<string, Stanza> {
  const stanzas = new Map<string, Stanza>();
  for (const block of text.split(/\n[ \t]*\n/)) {
    const body = block.replace(/^\n+|\n+$/g, '');
    if (body === '') continue;
    const name = fieldValue(body, 'Package');
    if (name === undefined) throw new Error(`a stanza without a Package field: ${body.split('\n')[0] ?? ''}`);
    const arch = fieldValue(body, 'Architecture') ?? '';
    const key = `${name}:${arch}`;
    if (stanzas.has(key)) throw new Error(`package ${key} appears twice`);
    stanzas.set(key, { key, name, arch, text: body });
  }
  return stanzas;
}

/** Written the way dpkg writes it: sorted by name, then architecture, each stanza followed by a blank line. */
export function formatStatus(stanzas: Iterable<Stanza>): string {
  const sorted = [...stanzas].sort((a, b) => compare(a.name, b.name) || compare(a.arch, b.arch));
  return sorted.map((stanza) => `${stanza.text}\n\n`).join('');
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** "1.2-3 installed", "1.0 config-files", or "absent": how a package is shown in reports. */
export function describeStanza(stanza: Stanza | undefined): string {
  if (!stanza) return 'absent';
  const state = fieldValue(stanza.text, 'Status')?.split(' ')[2] ?? 'unknown';
  const version = fieldValue(stanza.text, 'Version');
  return version ? `${version} ${state}` : state;
}
