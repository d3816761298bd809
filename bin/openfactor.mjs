#!/usr/bin/env node
// `npx openfactor …`: the compiled CLI (build/, made by `npm run build`, which `npm install` runs).
import { existsSync } from 'node:fs';

const compiled = new URL('../build/cli.js', import.meta.url);
if (!existsSync(compiled)) {
  console.error('openfactor: not built yet. Run `npm run build` (npm install does it), or `npm run dev` to run from the TypeScript sources.');
  process.exit(1);
}
await import(compiled.href);
