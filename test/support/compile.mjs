// The test files run compiled: esbuild bundles each one with the sources it imports (packages stay
// in node_modules) before the suite starts. Loading src/ through tsx cost each test file's process
// about 1.8 s of CPU more on Node 20 (its module hooks run on another thread; README, "Test").
// Plain JavaScript: test/run.mjs and the reporters load it before anything is compiled.
import { readFile } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, stop } from 'esbuild';

export const root = new URL('../..', import.meta.url).pathname;
/** Where `npm test` compiles to (a run started by another run compiles to a directory of its own). */
export const compiledDir = resolve(root, 'build-test');

/**
 * A module keeps the address of its source as `import.meta.url`: tests find fixtures, dist/ and the
 * package root from it, and a bundled chunk sits at another depth than the file it came from.
 */
const ownUrl = {
  name: 'import-meta-url-of-source',
  setup(b) {
    b.onLoad({ filter: /\.[mc]?[jt]s$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      if (!text.includes('import.meta.url')) return undefined;
      return { contents: text.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)), loader: /\.[mc]?ts$/.test(args.path) ? 'ts' : 'js' };
    });
  },
};

/** Compiles `files` (paths of TypeScript test files) into `outdir`; returns the compiled files, in order. */
export async function compileTests(files, outdir) {
  const entries = files.map((f) => resolve(root, f));
  await build({
    absWorkingDir: root,
    entryPoints: entries,
    outbase: root,
    outdir,
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    splitting: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20.19',
    sourcemap: 'linked',
    sourcesContent: false,
    // As tsx ran them: a class or function keeps its own name where bundling would rename it.
    keepNames: true,
    plugins: [ownUrl],
    logLevel: 'warning',
  }).finally(stop); // esbuild's service process would outlive the build, into the tests' run
  return entries.map((e) => resolve(outdir, relative(root, e)).replace(/\.[mc]?ts$/, '.js'));
}

/** The source a compiled test file came from, relative to the package root (for reports). */
export function sourceOf(file) {
  const rel = relative(root, file);
  const m = /^build-test(?:-[^/]+)?\/(.*)\.js$/.exec(rel);
  return m ? `${m[1]}.ts` : rel;
}
