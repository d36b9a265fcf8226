// The heart of every shell's completion: one POSIX sh function, __venv_candidates CUR
// WORD..., that reads the words typed after "venv" and prints what fits the current one,
// a line each, or "@files" / "@commands" for the shell to complete itself. Env names and
// snapshot tags come from the store's directories, read by the shell: no node start-up
// per Tab. It is written to run unchanged in bash, in zsh (under sh emulation) and in sh
// (fish calls it through sh), so it splits no variables and keeps to case statements.
import type { CompletionSpec } from './completion-spec.js';

const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;
const lines = (words: readonly string[]) => (words.length ? `printf '%s\\n' ${words.map(quote).join(' ')}` : ':');

function cases(entries: [pattern: string, body: string][], fallback = 'return 1'): string {
  return [...entries.map(([pattern, body]) => `    ${pattern}) ${body} ;;`), `    *) ${fallback} ;;`].join('\n');
}

export function shellCore(spec: CompletionSpec): string {
  const bySpec = (f: (s: CompletionSpec['specs'][number]) => string | undefined) =>
    spec.specs.flatMap((s): [string, string][] => {
      const body = f(s);
      return body === undefined ? [] : [[quote(s.path), body]];
    });
  const kinds = bySpec((s) => `set -- ${s.args.join(' ') || 'none'}; variadic=${s.variadic ? 1 : ''}`);
  const valued = spec.specs.flatMap((s) =>
    s.valued.map((flag): [string, string] => [quote(`${s.path}:${flag}`), 'return 0']),
  );
  const subs = spec.specs.flatMap((s) =>
    s.subcommands.map((sub): [string, string] => [quote(`${s.path}:${sub}`), 'return 0']),
  );
  return `__venv_home() {
  printf '%s' "\${VENV_HOME:-\${XDG_DATA_HOME:-$HOME/.local/share}/venv}"
}
__venv_envs() {
  for __venv_d in "$(__venv_home)"/envs/*/; do
    [ -d "$__venv_d" ] || continue
    __venv_d=\${__venv_d%/}; __venv_d=\${__venv_d##*/}
    case $__venv_d in .*) ;; *) printf '%s\\n' "$__venv_d" ;; esac
  done
}
__venv_tags() {
  case $1 in '' | .* | */*) return ;; esac
  for __venv_d in "$(__venv_home)"/snapshots/"$1"/*/; do
    [ -d "$__venv_d" ] || continue
    __venv_d=\${__venv_d%/}; __venv_d=\${__venv_d##*/}
    case $__venv_d in .*) ;; *) printf '%s\\n' "$__venv_d" ;; esac
  done
}
__venv_commands() {
  ${lines(spec.commands)}
}
__venv_options() {
  case $1 in
${cases(
  bySpec((s) => lines(s.options)),
  lines(spec.globalOptions),
)}
  esac
}
__venv_values() {
  case $1 in
${cases(
  Object.entries(spec.values).map(([flag, values]) => [quote(flag), lines(values)]),
  "echo '@files'",
)}
  esac
}
__venv_valued() {
  case $1 in
${cases(valued)}
  esac
}
__venv_is_sub() {
  case $1 in
${cases(subs)}
  esac
}
# The kind of positional argument number $2 (0 first) of command $1: env, tag, file,
# command, help or none.
__venv_arg_kind() {
  __venv_n=$2
  case $1 in
${cases(kinds, 'set -- none; variadic=')}
  esac
  while [ "$__venv_n" -gt 0 ] && [ $# -gt 1 ]; do shift; __venv_n=$((__venv_n - 1)); done
  if [ "$__venv_n" -gt 0 ] && [ -z "$variadic" ]; then echo none; else echo "$1"; fi
}
__venv_candidates() {
  __venv_cur=$1; shift
  __venv_cmd= __venv_sub= __venv_nargs=0 __venv_first= __venv_valued= __venv_dashdash= __venv_runargs=
  for __venv_w in "$@"; do
    if [ -n "$__venv_valued" ]; then __venv_valued=; continue; fi
    if [ -z "$__venv_cmd" ]; then
      case $__venv_w in -*) ;; *) __venv_cmd=$__venv_w ;; esac
      continue
    fi
    __venv_path="$__venv_cmd\${__venv_sub:+ $__venv_sub}"
    # After the env of "run", every word is the command's (its options included), but
    # for one "--" right after the env.
    if [ -n "$__venv_runargs" ]; then
      if [ -z "$__venv_dashdash" ] && [ "$__venv_w" = -- ] && [ "$__venv_nargs" -eq "$__venv_runargs" ]; then
        __venv_dashdash=1; continue
      fi
    elif [ -z "$__venv_dashdash" ]; then
      case $__venv_w in
        --) __venv_dashdash=1; continue ;;
        -*) __venv_valued "$__venv_path:$__venv_w" && __venv_valued=$__venv_w; continue ;;
      esac
    fi
    if [ -z "$__venv_sub" ] && [ "$__venv_nargs" -eq 0 ] && __venv_is_sub "$__venv_cmd:$__venv_w"; then
      __venv_sub=$__venv_w; continue
    fi
    __venv_nargs=$((__venv_nargs + 1))
    [ "$__venv_nargs" -eq 1 ] && __venv_first=$__venv_w
    [ -z "$__venv_runargs" ] && [ "$(__venv_arg_kind "$__venv_path" "$__venv_nargs")" = command ] &&
      __venv_runargs=$__venv_nargs
  done
  if [ -z "$__venv_cmd" ]; then
    case $__venv_cur in -*) __venv_options '' ;; *) __venv_commands ;; esac
    return 0
  fi
  __venv_path="$__venv_cmd\${__venv_sub:+ $__venv_sub}"
  if [ -n "$__venv_valued" ]; then __venv_values "$__venv_valued"; return 0; fi
  __venv_kind=$(__venv_arg_kind "$__venv_path" "$__venv_nargs")
  # The command's own arguments: files (its name was the word before).
  if [ "$__venv_kind" = command ] && [ "$(__venv_arg_kind "$__venv_path" $((__venv_nargs - 1)))" = command ]; then
    echo '@files'; return 0
  fi
  if [ -z "$__venv_dashdash" ]; then
    case $__venv_cur in -*) __venv_options "$__venv_path"; return 0 ;; esac
  fi
  case $__venv_kind in
    env) __venv_envs ;;
    tag) __venv_tags "$__venv_first" ;;
    file) echo '@files' ;;
    command) echo '@commands' ;;
    help) if [ "$__venv_nargs" -eq 0 ]; then __venv_commands; else __venv_subs_of "$__venv_first"; fi ;;
  esac
  return 0
}
__venv_subs_of() {
  case $1 in
${cases(
  spec.specs.filter((s) => s.subcommands.length > 0).map((s) => [quote(s.path), lines(s.subcommands)]),
  ':',
)}
  esac
}
`;
}
