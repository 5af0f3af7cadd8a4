import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as ts from 'typescript';
import { main } from '../../cli/main';

/** While set, the commands' flag parsing reports the flags it defines instead of parsing (see flagsOf). */
let mockParse: ((defs: Record<string, unknown>) => never) | null = null;
jest.mock('../../cli/options', () => {
  const actual = jest.requireActual('../../cli/options');
  return {
    ...actual,
    parseFlags: (args: string[], defs: Record<string, unknown>) => (mockParse ? mockParse(defs) : actual.parseFlags(args, defs)),
    parseOptions: (args: string[], defs: Record<string, unknown>) => (mockParse ? mockParse(defs) : actual.parseOptions(args, defs)),
  };
});

/**
 * The README's code is part of the product: a user copies it. Every TypeScript block must type-check under
 * strict settings against the library entry (`import … from 'harnessx'`), and every shell line that runs
 * `harnessx <command> --flag` must name flags the command parses. The checks read whatever blocks the README
 * has, so sections added later are checked too; a failure names the README line.
 *
 * A block that uses names it does not define (your database, your verifier) declares them in an HTML comment
 * right above it, invisible on GitHub: `<!-- snippet-context: declare const db: …; -->`.
 */
const ROOT = resolve(__dirname, '../..');
const README = join(ROOT, 'README.md');

interface Block {
  lang: string;
  /** 1-based README line of the block's first code line. */
  line: number;
  code: string;
  context: string;
}

export function readmeBlocks(text: string): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]);
    if (!open) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end])) end++;
    // The comment may span lines; it must end on the line right above the fence.
    let context = '';
    if (/-->\s*$/.test(lines[i - 1] ?? '')) {
      let c = i - 1;
      while (c > 0 && !lines[c].includes('<!--')) c--;
      const comment = /<!--\s*snippet-context:([\s\S]*?)-->/.exec(lines.slice(c, i).join('\n'));
      if (comment) context = comment[1].trim();
    }
    blocks.push({ lang: open[1].toLowerCase(), line: start + 1, code: lines.slice(start, end).join('\n'), context });
    i = end;
  }
  return blocks;
}

let previousProgram: ts.Program | undefined;

/**
 * Type-checks blocks as modules beside the repo (so `zod` resolves from node_modules, `harnessx` to the
 * library entry). The files exist only in memory: nothing is written.
 */
function typeCheck(blocks: Block[]): string[] {
  const files = new Map<string, { block: Block; offset: number }>();
  const sources = new Map<string, string>();
  blocks.forEach((block, i) => {
    const name = join(ROOT, '__readme_snippets__', `block-${i}-line-${block.line}.ts`);
    // The context comes first, on one line, so a diagnostic's line maps straight back to the README.
    const header = `${block.context.replace(/\n/g, ' ')}\nexport {};\n`;
    files.set(name, { block, offset: 2 });
    sources.set(name, header + block.code);
  });
  const compilerOptions: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    esModuleInterop: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    types: ['node'],
    lib: ['lib.es2022.d.ts'],
    baseUrl: ROOT,
    paths: { harnessx: ['library/index.ts'] },
  };
  const host = ts.createCompilerHost(compilerOptions);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, version, onError, create) => {
    const text = sources.get(resolve(fileName));
    return text !== undefined ? ts.createSourceFile(fileName, text, version) : getSourceFile(fileName, version, onError, create);
  };
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (fileName) => sources.has(resolve(fileName)) || fileExists(fileName);
  const readFile = host.readFile.bind(host);
  host.readFile = (fileName) => sources.get(resolve(fileName)) ?? readFile(fileName);
  // The library's files are parsed once for all checks in this file.
  const program = ts.createProgram([...sources.keys()], compilerOptions, host, previousProgram);
  previousProgram = program;
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => !d.file || files.has(resolve(d.file.fileName)))
    .map((d) => {
      const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
      if (!d.file || d.start === undefined) return `README.md: ${message}`;
      const { block, offset } = files.get(resolve(d.file.fileName))!;
      const { line } = d.file.getLineAndCharacterOfPosition(d.start);
      return line < offset ? `README.md:${block.line - 1} (snippet-context comment): ${message}` : `README.md:${block.line + line - offset}: TS${d.code}: ${message}`;
    });
}

/** `harnessx <command> …` lines of shell blocks: README line, command (alternatives split), the flags it names. */
export function harnessxCommandLines(blocks: Block[]): Array<{ line: number; commands: string[]; words: string[]; flags: string[]; text: string }> {
  const out: Array<{ line: number; commands: string[]; words: string[]; flags: string[]; text: string }> = [];
  for (const block of blocks) {
    if (!['bash', 'sh', 'shell', 'console'].includes(block.lang)) continue;
    block.code.split('\n').forEach((raw, i) => {
      // A comment is prose: "--" there is not a flag.
      const text = raw.replace(/(^|\s)#.*$/, '');
      const m = /(?:^|[\s;&|(])(?:npx\s+)?harnessx\s+([a-z][\w|-]*)((?:\s+[a-z][\w.-]*)*)(.*)$/.exec(text);
      if (!m || m[1] === 'help') return;
      // The words before the first flag (a subcommand such as `deploy start`, a run id) reach the command as written.
      const words = m[2].split(/\s+/).filter(Boolean);
      const flags = [...m[3].matchAll(/(?<![\w-])--([a-z][a-z0-9-]*)/g)].map((f) => f[1]);
      if (flags.length) out.push({ line: block.line + i, commands: m[1].split('|'), words, flags, text: raw.trim() });
    });
  }
  return out;
}

/** The flags a command parses: it is run with the flags, and stopped at its parseFlags/parseOptions call. */
async function flagsOf(command: string, args: string[]): Promise<string[] | null> {
  class Parsed extends Error {
    constructor(readonly names: string[]) {
      super('parsed');
    }
  }
  let names: string[] | null = null;
  mockParse = (defs) => {
    names = Object.keys(defs);
    throw new Parsed(names);
  };
  // The stop shows up as the command's failure, which main prints: not news.
  const quiet = [jest.spyOn(console, 'error').mockImplementation(() => undefined), jest.spyOn(console, 'log').mockImplementation(() => undefined), jest.spyOn(process.stderr, 'write').mockImplementation(() => true)];
  try {
    await main([command, ...args]);
  } finally {
    mockParse = null;
    for (const s of quiet) s.mockRestore();
  }
  return names;
}

const blocks = readmeBlocks(readFileSync(README, 'utf8'));

describe('README TypeScript blocks compile under strict settings', () => {
  const tsBlocks = blocks.filter((b) => b.lang === 'ts' || b.lang === 'typescript');

  it('finds the blocks (the README has TypeScript examples)', () => {
    expect(tsBlocks.length).toBeGreaterThanOrEqual(2);
  });

  it('type-checks every block against the library entry', () => {
    expect(typeCheck(tsBlocks)).toEqual([]);
  }, 120_000);

  it('catches a block that is wrong, naming its README line (the check can fail)', () => {
    const text = ['# t', '', '<!-- snippet-context: declare const n: number; -->', '```ts', "import { createAgent } from 'harnessx';", 'const s: string = n;', 'createAgent({ harness: 1 });', '```'].join('\n');
    const problems = typeCheck(readmeBlocks(text));
    expect(problems.some((p) => p.startsWith("README.md:6: TS2322: Type 'number' is not assignable to type 'string'"))).toBe(true);
    expect(problems.some((p) => p.startsWith('README.md:7:'))).toBe(true);
    // An undeclared name is an error too: the context comment is the only way to bring one in.
    expect(typeCheck(readmeBlocks(['```ts', 'db.get(1);', '```'].join('\n')))).toEqual([expect.stringMatching(/^README\.md:2: TS2304: Cannot find name 'db'/)]);
  }, 120_000);
});

describe('README shell lines name flags that exist', () => {
  const lines = harnessxCommandLines(blocks);

  it('finds harnessx command lines with flags', () => {
    expect(lines.length).toBeGreaterThan(5);
  });

  it('every flag is one the command parses', async () => {
    const problems: string[] = [];
    for (const { line, commands, words, flags, text } of lines) {
      for (const command of commands) {
        const known = await flagsOf(command, [...words, ...flags.map((f) => `--${f}`)]);
        if (known === null) problems.push(`README.md:${line}: \`harnessx ${command}\` takes no flags (or is not a command), but the README gives it ${flags.map((f) => `--${f}`).join(' ')}: ${text}`);
        else for (const f of flags) if (!known.includes(f)) problems.push(`README.md:${line}: \`harnessx ${command}\` has no flag --${f} (it has ${known.map((k) => `--${k}`).join(', ')}): ${text}`);
      }
    }
    expect(problems).toEqual([]);
  }, 60_000);

  it('catches a flag that does not exist (the check can fail)', async () => {
    const [bad] = harnessxCommandLines(readmeBlocks(['```bash', 'npx harnessx rollout --suite s --modle sim:small   # --not-a-flag in a comment', '```'].join('\n')));
    expect(bad.flags).toEqual(['suite', 'modle']);
    const known = await flagsOf('rollout', ['--suite', '--modle']);
    expect(known).toContain('suite');
    expect(known).not.toContain('modle');
  });
});
