// Just enough of the Dockerfile and .dockerignore formats for the deployment checks: no
// Docker engine runs here, so the files are read as Docker would read them.

export interface Instruction {
  /** Upper case: FROM, COPY, … */
  readonly keyword: string;
  /** Everything after the keyword, continuation lines joined. */
  readonly args: string;
  /** 1-based line of the keyword, for messages. */
  readonly line: number;
}

export interface Stage {
  readonly image: string;
  /** The `AS name`, when given. */
  readonly name: string | undefined;
  readonly instructions: readonly Instruction[];
}

/**
 * The instructions, in order. A backslash at the end of a line continues the instruction on
 * the next; lines starting with `#` are comments (also between continuation lines, as
 * Docker reads them), which covers parser directives such as `# syntax=`.
 */
export function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending: { text: string; line: number } | undefined;
  text.split(/\r?\n/).forEach((raw, index) => {
    const trimmed = raw.trim();
    if (trimmed.startsWith('#') || (trimmed === '' && pending === undefined)) return;
    const continued = trimmed.endsWith('\\');
    const part = continued ? trimmed.slice(0, -1) : trimmed;
    pending = pending ? { text: `${pending.text} ${part}`, line: pending.line } : { text: part, line: index + 1 };
    if (continued) return;
    const match = /^(\S+)\s*(.*)$/s.exec(pending.text.trim());
    if (match) instructions.push({ keyword: match[1]!.toUpperCase(), args: match[2]!.trim(), line: pending.line });
    pending = undefined;
  });
  if (pending) throw new Error(`Dockerfile line ${pending.line}: the last instruction ends with a continuation`);
  return instructions;
}

/** The instructions grouped by FROM; what precedes the first FROM (ARG) is left out. */
export function stages(instructions: readonly Instruction[]): Stage[] {
  const result: { image: string; name: string | undefined; instructions: Instruction[] }[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const words = instruction.args.split(/\s+/).filter((word) => !word.startsWith('--'));
      const as = words.findIndex((word) => word.toUpperCase() === 'AS');
      result.push({ image: words[0]!, name: as >= 0 ? words[as + 1] : undefined, instructions: [] });
    } else {
      result.at(-1)?.instructions.push(instruction);
    }
  }
  return result;
}

/** The exec (JSON) form of CMD or ENTRYPOINT; undefined for the shell form. */
export function execForm(instruction: Instruction): string[] | undefined {
  if (!instruction.args.startsWith('[')) return undefined;
  const parsed: unknown = JSON.parse(instruction.args);
  if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === 'string')) {
    throw new Error(`Dockerfile line ${instruction.line}: ${instruction.keyword} must be a JSON array of strings`);
  }
  return parsed;
}

export interface Copy {
  /** The stage given by --from, else undefined: the build context. */
  readonly from: string | undefined;
  readonly sources: readonly string[];
  readonly destination: string;
}

/** A COPY or ADD: its --from flag, sources and destination, in either form. */
export function parseCopy(instruction: Instruction): Copy {
  let rest = instruction.args;
  let from: string | undefined;
  for (let flag = /^--([a-z-]+)(?:=(\S*))?\s+/.exec(rest); flag; flag = /^--([a-z-]+)(?:=(\S*))?\s+/.exec(rest)) {
    if (flag[1] === 'from') from = flag[2];
    rest = rest.slice(flag[0].length);
  }
  const words = rest.startsWith('[') ? (JSON.parse(rest) as string[]) : rest.split(/\s+/);
  if (words.length < 2) throw new Error(`Dockerfile line ${instruction.line}: ${instruction.keyword} needs a source and a destination`);
  return { from, sources: words.slice(0, -1), destination: words.at(-1)! };
}

/** Docker's path patterns: `*` and `?` within one path component, `**` across any number. */
function patternRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      // `**/` may also match nothing, so `**/x` matches `x` at the root.
      source += pattern[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += pattern[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

export interface IgnoreRule {
  readonly exclude: boolean;
  readonly pattern: RegExp;
}

/** .dockerignore lines as rules: comments and blank lines dropped, `!` re-includes. */
export function parseDockerignore(text: string): IgnoreRule[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const exclude = !line.startsWith('!');
      const path = (exclude ? line : line.slice(1)).trim().replace(/^\/+/, '').replace(/\/+$/, '');
      return { exclude, pattern: patternRegExp(path) };
    });
}

/**
 * Whether the build context leaves `path` (relative to the context, `/`-separated) out.
 * The last rule matching the path or one of its parent directories decides, as in Docker:
 * excluding a directory excludes what is in it.
 */
export function isIgnored(rules: readonly IgnoreRule[], path: string): boolean {
  const parts = path.split('/');
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const rule of rules) {
    if (prefixes.some((prefix) => rule.pattern.test(prefix))) ignored = rule.exclude;
  }
  return ignored;
}
