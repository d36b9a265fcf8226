// An archive of an env on a base (create --base) holds only the env's own changes: it is
// of use only on that base. `venv commit` names the base in the archive's pax global
// header (its `comment`, with the --live note if any), and restore refuses to make an
// env of it where that base is not stored. Other tools ignore the comment.

const NOTE = /venv: made on base ([0-9a-f]{16}) \((sha256:[0-9a-f]{64})\)/;

export function baseNote(id: string, digest: string): string {
  return `venv: made on base ${id} (${digest}); restore it where that base is stored`;
}

/** The base an archive's comment names ("ID sha256:..."), or undefined. */
export function baseOfNote(comment: string): string | undefined {
  const found = NOTE.exec(comment);
  return found ? `${found[1]} ${found[2]}` : undefined;
}
