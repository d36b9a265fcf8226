// venv(1), rendered from the commander definitions that --help shows, so that the two
// never disagree: a section per command with its usage, arguments, options and the text
// after its help (examples, notes). scripts/build-man.mjs writes it at build time.
import type { Command, Help } from 'commander';

/** Text for roff: backslashes escaped, no line read as a request, "-" as a real hyphen-minus. */
function roff(text: string): string {
  return text
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .split('\n')
    .map((line) => (/^[.']/.test(line) ? `\\&${line}` : line))
    .join('\n');
}

function visible(command: Command): Command[] {
  return command.commands.filter((sub) => !(sub as unknown as { _hidden?: boolean })._hidden);
}

/** What --help prints after the generated part (examples, notes), as written. */
function afterText(command: Command): string {
  let out = '';
  command.configureOutput({ writeOut: (text) => (out += text), writeErr: (text) => (out += text) });
  command.outputHelp();
  return out.slice(command.helpInformation().length).trim();
}

function fullName(command: Command): string {
  const words: string[] = [];
  for (let at: Command | null = command; at; at = at.parent) words.unshift(at.name());
  return words.join(' ');
}

function terms(_help: Help, rows: [string, string][]): string[] {
  return rows.flatMap(([term, description]) => ['.TP', `.B ${roff(term)}`, roff(description)]);
}

/** Paragraphs; "Examples:" blocks as they are; blocks of "TERM<tab>TEXT" lines as a list. */
function afterSection(text: string): string[] {
  if (text === '') return [];
  const lines: string[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const [first, ...rest] = block.split('\n');
    if (block.split('\n').every((line) => line.includes('\t'))) {
      for (const line of block.split('\n')) {
        const [term = '', description = ''] = line.split('\t');
        lines.push('.TP', `.B ${roff(term)}`, roff(description));
      }
    } else if (first === 'Examples:') {
      lines.push(
        '.PP',
        'Examples:',
        '.RS',
        '.nf',
        ...rest.map((line) => roff(line.replace(/^ {2}/, ''))),
        '.fi',
        '.RE',
      );
    } else {
      lines.push('.PP', roff(block));
    }
  }
  return lines;
}

function commandSection(command: Command): string[] {
  const help = command.createHelp();
  const name = fullName(command);
  const usage = command
    .usage()
    .split('\n')
    .map((line, i) => (i === 0 ? `${name} ${line}` : line.trim()));
  const lines = [
    '.SS',
    `.B ${roff(name)}`,
    '.nf',
    ...usage.map((line) => roff(line)),
    '.fi',
    '.PP',
    roff(command.description()),
  ];
  const args = help.visibleArguments(command);
  if (args.length) {
    lines.push('.PP', 'Arguments:', '.RS');
    lines.push(
      ...terms(
        help,
        args.map((a) => [help.argumentTerm(a), help.argumentDescription(a)]),
      ),
      '.RE',
    );
  }
  const options = help.visibleOptions(command).filter((o) => o.long !== '--help');
  if (options.length) {
    lines.push('.PP', 'Options:', '.RS');
    lines.push(
      ...terms(
        help,
        options.map((o) => [help.optionTerm(o), help.optionDescription(o)]),
      ),
      '.RE',
    );
  }
  lines.push(...afterSection(afterText(command)));
  return [...lines, ...visible(command).flatMap((sub) => commandSection(sub))];
}

export interface ManPageOptions {
  version: string;
  /** "2026-12-02": the date in the page's footer. */
  date: string;
  /** Paragraphs that open DESCRIPTION, before the examples. */
  description: string;
  /** Sections after COMMANDS, by title: EXIT STATUS, ENVIRONMENT, ... */
  sections: [title: string, text: string][];
}

export function manPage(program: Command, options: ManPageOptions): string {
  const commands = visible(program);
  return [
    `.TH VENV 1 "${options.date}" "venv ${options.version}" "User Commands"`,
    '.SH NAME',
    `venv \\- ${roff(program.description())}`,
    '.SH SYNOPSIS',
    '.B venv',
    '.I command',
    '[\\fIoptions\\fR] [\\fIarguments\\fR]',
    '.br',
    '.B venv',
    '[\\fB\\-\\-help\\fR | \\fB\\-\\-version\\fR]',
    '.SH DESCRIPTION',
    ...afterSection(options.description),
    ...afterSection(afterText(program)),
    '.SH COMMANDS',
    ...commands.flatMap((command) => commandSection(command)),
    ...options.sections.flatMap(([title, text]) => [`.SH "${title}"`, ...afterSection(text)]),
    '',
  ].join('\n');
}
