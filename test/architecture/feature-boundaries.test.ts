// The layout rules of ARCHITECTURE.md that a reader can check by eye, checked here on every run:
// (a) a feature's queries are its own: code outside `src/features/X/` reaches X through X's
//     service, never through X/queries.ts or any other X/*queries*.ts;
// (b) SQL lives in queries files: a Kysely statement (selectFrom, insertInto, updateTable,
//     deleteFrom, replaceInto, mergeInto, selectNoFrom, a sql`` template or a sql.raw/ref/… piece)
//     appears in src/ only in a file named queries.ts or *-queries.ts, or under src/store/.
// Files are read with TypeScript's own parser: comments and strings never count, and every
// import form (static, `export … from`, `import()`) does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('../..', import.meta.url));
const src = join(root, 'src');

const BUILDER_METHODS = new Set(['selectFrom', 'insertInto', 'updateTable', 'deleteFrom', 'replaceInto', 'mergeInto', 'selectNoFrom']);
const SQL_HELPERS = new Set(['raw', 'ref', 'lit', 'val', 'id', 'table', 'join']);

interface Violation {
  /** `src/…:line`, relative to the repository. */
  at: string;
  what: string;
}

/** `src/…` with forward slashes, whatever the platform. */
const rel = (abs: string) => relative(root, abs).split(sep).join('/');

/** The feature a file belongs to (`src/features/<feature>/…`), if any. */
function featureOf(relPath: string): string | undefined {
  const m = /^src\/features\/([^/]+)\//.exec(relPath);
  return m?.[1];
}

const isQueriesFile = (relPath: string) => /(^|\/)([a-z0-9-]+-)?queries\.ts$/.test(relPath);

function parse(relPath: string, text: string): ts.SourceFile {
  return ts.createSourceFile(relPath, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
}

const lineOf = (sf: ts.SourceFile, node: ts.Node) => sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;

/** Every module a file imports or re-exports, with the line it does so on. */
function importsOf(sf: ts.SourceFile): { spec: string; line: number }[] {
  const out: { spec: string; line: number }[] = [];
  const visit = (node: ts.Node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      out.push({ spec: node.moduleSpecifier.text, line: lineOf(sf, node) });
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteralLike(node.arguments[0])) {
      out.push({ spec: node.arguments[0].text, line: lineOf(sf, node) });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** Rule (a) for one file: imports of another feature's queries. */
function foreignQueryImports(relPath: string, text: string): Violation[] {
  const own = featureOf(relPath);
  const out: Violation[] = [];
  for (const { spec, line } of importsOf(parse(relPath, text))) {
    if (!spec.startsWith('.')) continue; // packages
    const target = rel(resolve(root, dirname(relPath), spec));
    const feature = featureOf(target);
    if (!feature || feature === own || !/queries[^/]*\.ts$/.test(target)) continue;
    out.push({
      at: `${relPath}:${line}`,
      what: `imports ${target}, the queries of the ${feature} feature: call src/features/${feature}/service.ts instead (export from there what other code needs: a re-export for a plain read, a function for anything with a rule)`,
    });
  }
  return out;
}

/** Rule (b) for one file: Kysely statements outside a queries file. */
function sqlOutsideQueries(relPath: string, text: string): Violation[] {
  if (relPath.startsWith('src/store/') || isQueriesFile(relPath)) return [];
  const sf = parse(relPath, text);
  // `sql` as Kysely exports it, under whatever local name the file gives it.
  const sqlNames = new Set(['sql']);
  for (const s of sf.statements) {
    if (!ts.isImportDeclaration(s) || !ts.isStringLiteral(s.moduleSpecifier) || s.moduleSpecifier.text !== 'kysely') continue;
    const named = s.importClause?.namedBindings;
    if (named && ts.isNamedImports(named)) for (const e of named.elements) if ((e.propertyName ?? e.name).text === 'sql') sqlNames.add(e.name.text);
  }
  const isSql = (e: ts.Expression) => ts.isIdentifier(e) && sqlNames.has(e.text);
  const home = featureOf(relPath) ? `src/features/${featureOf(relPath)}/queries.ts` : `${dirname(relPath)}/queries.ts`;
  const out: Violation[] = [];
  const flag = (node: ts.Node, what: string) =>
    out.push({ at: `${relPath}:${lineOf(sf, node)}`, what: `${what} outside a queries file: move the statement into ${home} (or a *-queries.ts beside it), named after what it does, and call that from here` });
  const visit = (node: ts.Node) => {
    if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression)) {
      const name = node.expression.name.text;
      if (BUILDER_METHODS.has(name)) flag(node, `Kysely .${name}()`);
      else if (SQL_HELPERS.has(name) && isSql(node.expression.expression)) flag(node, `Kysely sql.${name}()`);
    } else if (ts.isTaggedTemplateExpression(node) && isSql(node.tag)) {
      flag(node, 'Kysely sql`…` template');
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return tsFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

const sources = tsFiles(src).map((abs) => ({ path: rel(abs), text: readFileSync(abs, 'utf8') }));

const report = (title: string, vs: Violation[]) => `${title} (${vs.length}):\n${vs.map((v) => `  ${v.at}: ${v.what}`).join('\n')}`;

test('the walk sees the source tree', () => {
  // A wrong root would make both rules pass on nothing.
  assert.ok(sources.length > 50, `only ${sources.length} .ts files found under ${src}`);
  assert.ok(sources.some((s) => s.path === 'src/features/tokens/service.ts'));
});

test('(a) code outside a feature goes through its service, not its queries', () => {
  const vs = sources.flatMap((s) => foreignQueryImports(s.path, s.text));
  assert.equal(vs.length, 0, report('Imports of another feature’s queries', vs));
});

test('(b) Kysely statements live in queries files (or src/store/)', () => {
  const vs = sources.flatMap((s) => sqlOutsideQueries(s.path, s.text));
  assert.equal(vs.length, 0, report('SQL outside queries files', vs));
});

// The checks themselves, on made-up files: a rule that silently matched nothing would pass forever.
test('the checks catch what they are meant to, and only that', () => {
  const foreign = [
    "import { findUser } from '../users/queries.ts';",
    "export { phoneOf } from '../users/queries.ts';",
    "import type { PersonDeviceRow } from '../devices/person-queries.ts';",
    "const q = await import('../users/queries.ts');",
    "import * as own from './queries.ts';",
    "import { findUser } from '../users/service.ts';",
    "import { sql } from 'kysely';",
  ].join('\n');
  assert.deepEqual(
    foreignQueryImports('src/features/tokens/service.ts', foreign).map((v) => v.at),
    ['src/features/tokens/service.ts:1', 'src/features/tokens/service.ts:2', 'src/features/tokens/service.ts:3', 'src/features/tokens/service.ts:4'],
  );
  assert.deepEqual(foreignQueryImports('src/admin/applications.ts', "import { x } from '../features/users/queries.ts';").map((v) => v.at), ['src/admin/applications.ts:1']);
  assert.deepEqual(foreignQueryImports('src/admin/applications.ts', "import * as q from './queries.ts';"), []);
  assert.match(foreignQueryImports('src/delivery/outbox.ts', "import { addUsage } from '../features/applications/queries.ts';")[0].what, /src\/features\/applications\/service\.ts/);

  const statements = [
    "import { sql as raw, type Kysely } from 'kysely';",
    '// db.selectFrom("users") in a comment, and sql`x` too, are not code',
    "const s = 'db.deleteFrom(\"x\")';",
    "await db.selectFrom('users').selectAll().execute();",
    "await trx.insertInto('users').values(v).execute();",
    "await this.d.db.updateTable('users').set(v).execute();",
    "await db.deleteFrom('users').execute();",
    "await db.replaceInto('meta').values(v).execute();",
    'await raw`SELECT 1`.execute(db);',
    "const r = raw<number>`count(*)`;",
    "const c = raw.ref('users.id');",
    'await db.transaction().execute(async (trx) => q.insertUser(trx, v));',
  ].join('\n');
  assert.deepEqual(
    sqlOutsideQueries('src/features/users/import.ts', statements).map((v) => v.at),
    [4, 5, 6, 7, 8, 9, 10, 11].map((n) => `src/features/users/import.ts:${n}`),
  );
  assert.match(sqlOutsideQueries('src/delivery/hooks.ts', "db.selectFrom('x');")[0].what, /src\/delivery\/queries\.ts/);
  for (const allowed of ['src/features/users/queries.ts', 'src/features/devices/person-queries.ts', 'src/delivery/queries.ts', 'src/store/migrations.ts', 'src/store/x/y.ts']) {
    assert.deepEqual(sqlOutsideQueries(allowed, statements), [], allowed);
  }
  // A name that merely ends in "queries" is not a queries file.
  assert.equal(sqlOutsideQueries('src/features/users/myqueries.ts', "db.selectFrom('x');").length, 1);
});
