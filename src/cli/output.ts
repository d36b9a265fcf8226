// What the CLI prints besides the data it was asked for: messages ("created env ..."),
// warnings and progress bars. `--quiet`, which every command takes, silences them all;
// errors and the data (list, diff, --json, ...) are printed whatever it says.

let quiet = false;

export function setQuiet(value: boolean): void {
  quiet = value;
}

export function isQuiet(): boolean {
  return quiet;
}

/** A message of venv's own: on stdout unless --quiet. */
export function say(text: string, stream: NodeJS.WritableStream = process.stdout): void {
  if (!quiet) stream.write(text);
}

/** A warning (`venv: warning: ...`) on stderr unless --quiet. */
export function warn(text: string): void {
  if (!quiet) process.stderr.write(`venv: warning: ${text}\n`);
}
