// How each of our pages is built: web/<name> into dist/<name>, served by OpenFactor at /<name>/
// (src/web/built-page.ts).
import { defineConfig, type UserConfig } from 'vite';
import { fileURLToPath } from 'node:url';

export function pageConfig(name: string): UserConfig {
  return defineConfig({
    root: fileURLToPath(new URL(`../${name}/`, import.meta.url)),
    base: `/${name}/`,
    build: {
      outDir: fileURLToPath(new URL(`../../dist/${name}`, import.meta.url)),
      emptyOutDir: true,
      target: 'es2022',
    },
    logLevel: 'warn',
  });
}
