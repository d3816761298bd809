#!/usr/bin/env node
// `npm run build:server`: the server and CLI as one esbuild bundle in build/ (cli.js, with the
// parts loaded later, like every CLI command's code, in build/chunks/). A bundle starts in about
// half the time of one JavaScript file per module: Node then opens, resolves and links some 40
// files instead of some 400 (see the README's start figures). Type-checking is `npm run
// typecheck`; esbuild only strips the types.
// Not bundled: better-sqlite3 and sodium-native (native addons) and what src/core/lazy.ts loads on first use from
// node_modules (the PostgreSQL and Redis clients, SMPP, SMTP, QR codes and the like).
import { cpSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
rmSync(`${root}build`, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  // The import's worker thread is an entry of its own (core/package-files.ts workerFile).
  entryPoints: { cli: 'src/cli.ts', 'import-worker': 'src/features/users/import-worker.ts' },
  outdir: 'build',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20.19',
  sourcemap: true,
  // Native modules load their compiled part from beside their own files: left in node_modules.
  external: ['better-sqlite3', 'sodium-native', 'pg-native', 'argon2'],
  // Bundled CommonJS packages call require() for Node's own modules.
  banner: { js: "import { createRequire as __openfactorRequire } from 'node:module'; const require = __openfactorRequire(import.meta.url);" },
  logLevel: 'warning',
});
cpSync(`${root}src/store/checkpoint-worker.mjs`, `${root}build/checkpoint-worker.mjs`);
