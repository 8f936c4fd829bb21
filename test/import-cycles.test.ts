// eslint's import-x/no-cycle skips type-only imports (it has no option to count them), so a
// cycle through `import type` passes lint. This test builds the graph itself and counts them.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SOURCE_FILE = /\.(ts|js)$/;
const RESOLUTION: ts.CompilerOptions = {
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  allowJs: true,
};

/** Every module specifier `file` names: imports and re-exports (type-only too), `import('…')` types and calls. */
function specifiers(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
  const found: string[] = [];
  const add = (node: ts.Node | undefined): void => {
    if (node && ts.isStringLiteralLike(node)) found.push(node.text);
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) add(node.moduleSpecifier);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) add(node.moduleReference.expression);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node.argument.literal);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) add(node.arguments[0]);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The modules below `dir` and, for each, the modules below `dir` it imports (paths relative to `dir`). */
function importGraph(dir: string): Map<string, string[]> {
  const files = readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && SOURCE_FILE.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name));
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const targets = new Set<string>();
    for (const specifier of specifiers(file)) {
      const resolved = ts.resolveModuleName(specifier, file, RESOLUTION, ts.sys).resolvedModule?.resolvedFileName;
      if (resolved && !resolved.includes('/node_modules/')) {
        const target = relative(dir, resolved);
        if (!target.startsWith('..')) targets.add(target);
      }
    }
    graph.set(relative(dir, file), [...targets].sort());
  }
  return graph;
}

/** One cycle per back edge of a depth-first walk, each written `a → b → a`; none means the graph has no cycle. */
function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[] {
  const done = new Set<string>();
  const path: string[] = [];
  const cycles: string[] = [];
  const walk = (module: string): void => {
    path.push(module);
    for (const next of graph.get(module) ?? []) {
      const start = path.indexOf(next);
      if (start >= 0) cycles.push([...path.slice(start), next].join(' → '));
      else if (!done.has(next)) walk(next);
    }
    path.pop();
    done.add(module);
  };
  for (const module of [...graph.keys()].sort()) if (!done.has(module)) walk(module);
  return cycles;
}

describe('import cycles', () => {
  test('a cycle made only of type imports and type re-exports is found', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'v2serve-cycles-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'a.ts'), "import type { B } from './b.js';\nexport interface A { b?: B }\n");
    writeFileSync(join(dir, 'b.ts'), "export type { C as B } from './c.js';\n");
    writeFileSync(join(dir, 'c.ts'), "import type { A } from './a.js';\nexport interface C { a?: A }\n");
    assert.deepEqual(findCycles(importGraph(dir)), ['a.ts → b.ts → c.ts → a.ts']);
  });

  test('src/ has none, type imports included', () => {
    const graph = importGraph(join(ROOT, 'src'));
    assert.ok(graph.size > 50, `expected the modules of src/, found ${graph.size}`);
    const cycles = findCycles(graph);
    assert.deepEqual(cycles, [], `import cycles in src/:\n${cycles.join('\n')}`);
  });
});
