// Command lines as hubble reads them (Go's pflag) where commander reads them otherwise: a boolean flag given a value
// (`--follow=false`, `-f=true`), a short flag joined to its value by `=` (`-o=json`), and the server flags given
// before the subcommand (`hubble-ts --server X observe`). Rewrites the arguments into commander's forms.
import type { Command, Option } from 'commander';
import { CliError } from './client.js';

/** A boolean flag's value as pflag reads `--flag=VALUE` (Go's strconv.ParseBool). */
export function parseGoBool(flag: string): (v: string) => boolean {
  return (v) => {
    if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
    if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
    throw new CliError(`invalid argument "${v}" for "--${flag}" flag: expected true or false`);
  };
}

const takesValue = (option: Option): boolean => option.required || option.optional;

function optionNamed(cmd: Command, token: string): Option | undefined {
  return cmd.options.find((o) => o.long === token || o.short === token);
}

/**
 * The negation commander needs to set a boolean flag to false (`--no-NAME`), added hidden to `cmd` when it has none:
 * defined after the flag, it leaves the flag's default as it was.
 */
function negationOf(cmd: Command, option: Option): string {
  const negation = `--no-${option.long!.slice(2)}`;
  if (optionNamed(cmd, negation) === undefined) {
    cmd.addOption(cmd.createOption(negation, `same as ${option.long}=false`).hideHelp());
  }
  return negation;
}

/** The subcommand of `cmd` named `name` (or by an alias), if any. */
function subcommandNamed(cmd: Command, name: string): Command | undefined {
  return cmd.commands.find((c) => c.name() === name || c.aliases().includes(name));
}

/**
 * `args` (the command line after the program's name) with pflag's forms rewritten for `program`'s commands: a
 * boolean flag's `=VALUE` read as pflag reads it (true: the flag; false: its negation), `-X=VALUE` as `-X VALUE`, and
 * flags given before the subcommand that the subcommand has (hubble's root takes the server flags) moved after it.
 * Everything else is left for commander, which reports what it does not know.
 */
export function pflagArgs(program: Command, args: readonly string[]): string[] {
  const out: string[] = [];
  /** Flags (with their values) given before a subcommand was named, the command they were seen on. */
  const early: { at: number; tokens: string[]; before: Command }[] = [];
  let cmd = program;
  let i = 0;
  for (; i < args.length; i++) {
    const token = args[i]!;
    if (token === '--') break;
    if (!token.startsWith('-') || token === '-') {
      const sub = subcommandNamed(cmd, token);
      if (sub !== undefined) cmd = sub;
      out.push(token);
      continue;
    }
    const eq = token.indexOf('=');
    const name = eq < 0 ? token : token.slice(0, eq);
    const value = eq < 0 ? undefined : token.slice(eq + 1);
    const option = optionNamed(cmd, name);
    if (option === undefined) {
      // Maybe a flag of a subcommand still to be named (`hubble-ts --server X observe`): decided at the end.
      const tokens = [token];
      const next = args[i + 1];
      if (eq < 0 && next !== undefined && !next.startsWith('-') && subcommandNamed(cmd, next) === undefined) {
        tokens.push(next);
        i++;
      }
      early.push({ at: out.length, tokens, before: cmd });
      out.push(...tokens);
      continue;
    }
    if (!takesValue(option)) {
      if (value === undefined) out.push(token);
      else if (parseGoBool(option.long!.slice(2))(value)) out.push(option.long!);
      else out.push(option.negate ? option.long!.replace(/^--no-/, '--') : negationOf(cmd, option));
      continue;
    }
    if (value !== undefined && !name.startsWith('--')) {
      out.push(name, value);
    } else {
      out.push(token);
      if (value === undefined && option.required && i + 1 < args.length) out.push(args[++i]!);
    }
  }
  // Early flags the command finally named has: after its name (and its own flags), where commander gives them to it.
  const moved = early.filter((e) => e.before !== cmd && optionNamed(cmd, e.tokens[0]!.split('=')[0]!) !== undefined);
  for (const e of [...moved].reverse()) out.splice(e.at, e.tokens.length);
  return [...out, ...moved.flatMap((e) => pflagArgs(cmd, e.tokens)), ...args.slice(i)];
}
