// The house rules of ../shared/CONVENTIONS.md that a machine can check (issue 9): no function in src/
// over 70 lines, and no query in a service or a route file — SQL lives in repositories.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';

const root = resolve(import.meta.dirname, '../..');
const maxFunctionLines = 70;

function sourceFiles(directory: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(directory)) {
    const path = join(directory, name);
    if (statSync(path).isDirectory()) found.push(...sourceFiles(path));
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) found.push(path);
  }
  return found.sort();
}

function functionName(node: ts.Node, source: ts.SourceFile): string {
  const named = node as { name?: ts.Node };
  if (named.name) return named.name.getText(source);
  const parent = node.parent;
  if (parent && ts.isVariableDeclaration(parent)) return parent.name.getText(source);
  if (parent && ts.isPropertyAssignment(parent)) return parent.name.getText(source);
  return '(anonymous)';
}

export function longFunctions(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const last = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const lines = last - first + 1;
      if (lines > maxFunctionLines) {
        found.push(`${relative(root, path)}:${first + 1} ${functionName(node, source)} (${lines} lines)`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const queryPattern = /\b(selectFrom|insertInto|updateTable|deleteFrom|replaceInto|mergeInto)\s*\(|\bsql\s*`/;

describe('structure (issue 9)', () => {
  const files = sourceFiles(join(root, 'src'));

  it('no function in src/ is longer than 70 lines', () => {
    const long = files.flatMap(longFunctions);
    assert.deepEqual(long, [], `functions over ${maxFunctionLines} lines:\n${long.join('\n')}`);
  });

  it('no service or route file contains a query (queries live in repositories)', () => {
    const offenders = files
      .filter((path) => /\.(service|routes)\.ts$/.test(path))
      .filter((path) => queryPattern.test(readFileSync(path, 'utf8')))
      .map((path) => relative(root, path));
    assert.deepEqual(offenders, [], `service or route files with a query:\n${offenders.join('\n')}`);
  });

  it('in src/modules only repository files contain a query', () => {
    const offenders = files
      .filter((path) => path.includes(`${join('src', 'modules')}/`) && !path.endsWith('.repository.ts'))
      .filter((path) => queryPattern.test(readFileSync(path, 'utf8')))
      .map((path) => relative(root, path));
    assert.deepEqual(
      offenders,
      [],
      `module files with a query outside a repository:\n${offenders.join('\n')}`,
    );
  });

  it('the checks find what they look for (a long function and a query are caught)', () => {
    const body = Array.from({ length: maxFunctionLines + 1 }, (_, i) => `  const v${i} = ${i};`).join('\n');
    const text = `function tooLong() {\n${body}\n}\n`;
    const source = ts.createSourceFile('x.ts', text, ts.ScriptTarget.Latest, true);
    const statement = source.statements[0] as ts.FunctionDeclaration;
    const lines =
      source.getLineAndCharacterOfPosition(statement.getEnd()).line -
      source.getLineAndCharacterOfPosition(statement.getStart(source)).line +
      1;
    assert.ok(lines > maxFunctionLines);
    assert.ok(queryPattern.test("db.selectFrom('users')"));
    assert.ok(queryPattern.test('sql`select 1`'));
    assert.ok(!queryPattern.test('const selected = 1;'));
  });
});
