// Where the files that ship beside the code are: the web apps Vite builds into dist/ and the SQLite
// checkpoint worker. Found from the package root, because the compiled server is a bundle in
// build/ whose modules sit at other depths than the sources under src/ that tsx runs.
import { existsSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

const here = fileURLToPath(import.meta.url);

function rootAbove(dir: string): string {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, 'package.json'))) return d;
    if (dirname(d) === d) throw new Error(`no package.json above ${dir}`);
  }
}

export const packageRoot = rootAbove(dirname(here));

/** True when this is the bundle in build/ (`npm start`, `openfactor`), false when tsx runs src/. */
export const runningCompiled = here.startsWith(join(packageRoot, 'build') + sep);

/** A file of `dir` under build/ when running compiled, under src/ otherwise. */
export function codeFile(srcDir: string, name: string): string {
  return runningCompiled ? join(packageRoot, 'build', name) : join(packageRoot, 'src', srcDir, name);
}

/**
 * A worker thread running `name` of `dir`: bundled on its own in build/ (scripts/build-server.mjs),
 * or the TypeScript under src/ through tsx's loader, registered in the worker (one given as
 * `execArgv` did not load the entry file on Node 20).
 */
export function startWorker(srcDir: string, name: string, workerData: unknown): Worker {
  if (runningCompiled) return new Worker(join(packageRoot, 'build', `${name}.js`), { workerData });
  const entry = JSON.stringify(pathToFileURL(join(packageRoot, 'src', srcDir, `${name}.ts`)).href);
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api')); // from here, whatever the working directory
  return new Worker(`import(${tsx}).then(({ register }) => { register(); return import(${entry}); })`, { eval: true, workerData });
}
