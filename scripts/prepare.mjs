#!/usr/bin/env node
// `npm install` / `npm ci` run this (`prepare`). With the development tools installed it builds
// everything (`npm run build`). A production install (`npm ci --omit=dev`) has no compiler: it
// needs `build/` and `dist/` made beforehand by the build step, and says so if they are missing.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const has = (pkg) => {
  try {
    require.resolve(`${pkg}/package.json`);
    return true;
  } catch {
    return false;
  }
};

if (has('typescript') && has('vite')) {
  const r = spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
const built = ['build/cli.js', 'dist/console/index.html', 'dist/authenticator/index.html'];
const missing = built.filter((f) => !existsSync(new URL(`../${f}`, import.meta.url)));
if (missing.length === 0) {
  console.log('openfactor: production install, using the build already made (build/, dist/).');
  process.exit(0);
}
console.error(`openfactor: a production install needs the build step's output, and ${missing.join(', ')} is missing.
Build once with the development tools, then install without them:
  npm ci && npm run build        (on a build machine, or here)
  npm ci --omit=dev              (keeps build/ and dist/)`);
process.exit(1);
