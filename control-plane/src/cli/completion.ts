// `meshlens completion bash|zsh`: a completion script generated from the command declarations (commands, their
// options, -o formats, files after -f). zsh runs the bash function through bashcompinit.
import { optionsOf, UsageError, type Command } from './framework.ts';

function bashScript(commands: readonly Command[]): string {
  const groups = new Map<string, Set<string>>();
  const cases: string[] = [];
  const takesValue = new Set<string>();
  for (const command of commands) {
    const [first, second] = command.path;
    if (!groups.has('')) groups.set('', new Set());
    groups.get('')!.add(first!);
    if (second) {
      if (!groups.has(first!)) groups.set(first!, new Set());
      groups.get(first!)!.add(second);
    }
    const options = optionsOf(command);
    const words = Object.entries(options).flatMap(([name, o]) => [`--${name}`, ...(o.short ? [`-${o.short}`] : [])]);
    for (const [name, o] of Object.entries(options)) if (o.type === 'string') { takesValue.add(`--${name}`); if (o.short) takesValue.add(`-${o.short}`); }
    cases.push(`    "${command.path.join(' ')}") opts="${words.join(' ')}" ;;`);
  }
  const groupCases = [...groups].map(([group, subs]) => `    "${group}") COMPREPLY=($(compgen -W "${[...subs].join(' ')}" -- "$cur")); return ;;`);
  return `# meshlens completion for bash: source <(meshlens completion bash)
_meshlens() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]} path="" skip="" w opts=""
  for w in "\${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
    if [ -n "$skip" ]; then skip=""; continue; fi
    case "$w" in
      ${[...takesValue].sort().join('|')}) skip=1 ;;
      -*) ;;
      *) path="\${path:+$path }$w" ;;
    esac
  done
  case "$prev" in
    -o|--output) COMPREPLY=($(compgen -W "json yaml table" -- "$cur")); return ;;
    completion) COMPREPLY=($(compgen -W "bash zsh" -- "$cur")); return ;;
    -f|--file|--token-file|--ca|--tls-cert|--tls-key|--tls-ca|--data-dir) COMPREPLY=($(compgen -f -- "$cur")); return ;;
  esac
  if [[ "$cur" == -* ]]; then
    case "$path" in
${cases.join('\n')}
    esac
    COMPREPLY=($(compgen -W "$opts" -- "$cur")); return
  fi
  case "$path" in
${groupCases.join('\n')}
  esac
}
complete -o default -F _meshlens meshlens
`;
}

export function completionCommand(all: () => readonly Command[]): Command {
  return {
    path: ['completion'], args: 'bash|zsh', arity: [1, 1], summary: 'shell completion script: source <(meshlens completion bash)',
    details: 'bash: add `source <(meshlens completion bash)` to ~/.bashrc.\nzsh: add `source <(meshlens completion zsh)` to ~/.zshrc (uses bashcompinit).',
    async run({ args, io }) {
      const shell = args[0];
      if (shell !== 'bash' && shell !== 'zsh') throw new UsageError('invalid argument: the shell must be bash or zsh');
      const script = bashScript(all());
      io.stdout(shell === 'bash' ? script : `#compdef meshlens\nautoload -U +X compinit && compinit\nautoload -U +X bashcompinit && bashcompinit\n${script}`);
    },
  };
}
