// What makes the authenticator installable as an app, made at build time (a Vite plugin): the web
// app manifest, its icons drawn as real PNGs (pngjs), and the service worker (src/sw.ts) told which
// files are the app shell and which build it belongs to. The cache is named after a hash of every
// shell file, so a new build is a new service worker that replaces the old files.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { transformWithEsbuild, type Plugin } from 'vite';

export const THEME = '#1b1f24';
export const BACKGROUND = '#f6f7f9';
const GREEN = '#067647';

/** The shield and check mark of the page's inline icon (index.html), in its 32×32 box. */
const SHIELD_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><path d="M16 2 4 7v8c0 7.5 5.1 13.3 12 15 6.9-1.7 12-7.5 12-15V7z" fill="#067647"/><path d="m10 16 4 4 8-8" stroke="#fff" stroke-width="3" fill="none" stroke-linecap="round" stroke-linejoin="round"/></svg>\n';

type Pt = [number, number];
const cubic = (a: Pt, b: Pt, c: Pt, d: Pt, n: number): Pt[] =>
  Array.from({ length: n }, (_, i) => {
    const t = (i + 1) / n;
    const u = 1 - t;
    return [u ** 3 * a[0] + 3 * u * u * t * b[0] + 3 * u * t * t * c[0] + t ** 3 * d[0], u ** 3 * a[1] + 3 * u * u * t * b[1] + 3 * u * t * t * c[1] + t ** 3 * d[1]];
  });
/** The shield's outline as a polygon (its two curves flattened). */
const SHIELD: Pt[] = [[16, 2], [4, 7], [4, 15], ...cubic([4, 15], [4, 22.5], [9.1, 28.3], [16, 30], 32), ...cubic([16, 30], [22.9, 28.3], [28, 22.5], [28, 15], 32), [28, 7]];
const CHECK: [Pt, Pt][] = [[[10, 16], [14, 20]], [[14, 20], [22, 12]]];

/** Where the horizontal line at `y` crosses the shield's outline, left to right: inside between pairs. */
function shieldCrossings(y: number): number[] {
  const xs: number[] = [];
  for (let i = 0, j = SHIELD.length - 1; i < SHIELD.length; j = i++) {
    const [xi, yi] = SHIELD[i]!;
    const [xj, yj] = SHIELD[j]!;
    if (yi > y !== yj > y) xs.push(((xj - xi) * (y - yi)) / (yj - yi) + xi);
  }
  return xs.sort((a, b) => a - b);
}

function inside(crossings: number[], x: number): boolean {
  let n = 0;
  for (const c of crossings) if (c < x) n++;
  return n % 2 === 1;
}

function onCheck(x: number, y: number): boolean {
  return CHECK.some(([[ax, ay], [bx, by]]) => {
    const t = Math.max(0, Math.min(1, ((x - ax) * (bx - ax) + (y - ay) * (by - ay)) / ((bx - ax) ** 2 + (by - ay) ** 2)));
    return (x - ax - t * (bx - ax)) ** 2 + (y - ay - t * (by - ay)) ** 2 <= 1.5 ** 2; // stroke-width 3, round caps
  });
}

const rgb = (hex: string) => [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];

/**
 * The icon as a PNG of `size` pixels. `maskable`: a full-bleed background, the shield inside the
 * central circle of 40 % radius that every mask keeps; otherwise the shield alone on transparency.
 */
export function drawIcon(size: number, maskable: boolean): Buffer {
  const png = new PNG({ width: size, height: size });
  const box = maskable ? size * 0.68 : size; // the 32-unit box, in pixels
  const offset = (size - box) / 2;
  const [gr, gg, gb] = rgb(GREEN);
  const [br, bg, bb] = rgb(THEME);
  const N = 4; // 4×4 samples a pixel: smooth edges
  for (let py = 0; py < size; py++) {
    // The outline's crossings of each sample row of this pixel row, found once for the row.
    const rows = Array.from({ length: N }, (_, sy) => shieldCrossings(((py + (sy + 0.5) / N - offset) / box) * 32));
    for (let px = 0; px < size; px++) {
      let shield = 0;
      let check = 0;
      for (let sy = 0; sy < N; sy++) {
        const y = ((py + (sy + 0.5) / N - offset) / box) * 32;
        const crossings = rows[sy]!;
        for (let sx = 0; sx < N; sx++) {
          const x = ((px + (sx + 0.5) / N - offset) / box) * 32;
          if (!inside(crossings, x)) continue;
          if (onCheck(x, y)) check++;
          else shield++;
        }
      }
      const n = N * N;
      const back = maskable ? 1 : 0; // what shows where the shield does not
      const alpha = maskable ? 1 : (shield + check) / n;
      const mix = (g: number, w: number, b: number) => (alpha === 0 ? 0 : Math.round((g * shield + w * check + b * back * (n - shield - check)) / (alpha * n)));
      const i = (py * size + px) * 4;
      png.data[i] = mix(gr, 255, br);
      png.data[i + 1] = mix(gg, 255, bg);
      png.data[i + 2] = mix(gb, 255, bb);
      png.data[i + 3] = Math.round(alpha * 255);
    }
  }
  return PNG.sync.write(png);
}

/** The Vite plugin: manifest, icons and service worker into dist/authenticator; the manifest linked from index.html. */
export function installable(o: { base: string; name: string; shortName: string; description: string }): Plugin {
  const icons = [
    { file: 'icons/icon-192.png', size: 192, purpose: 'any', draw: () => drawIcon(192, false) },
    { file: 'icons/icon-512.png', size: 512, purpose: 'any', draw: () => drawIcon(512, false) },
    { file: 'icons/icon-maskable-512.png', size: 512, purpose: 'maskable', draw: () => drawIcon(512, true) },
  ];
  return {
    name: 'openfactor-installable',
    apply: 'build',
    enforce: 'post', // after Vite's own: index.html is in the bundle by then
    transformIndexHtml: () => [
      { tag: 'link', attrs: { rel: 'manifest', href: `${o.base}manifest.webmanifest` }, injectTo: 'head' },
      { tag: 'meta', attrs: { name: 'theme-color', content: THEME }, injectTo: 'head' },
      { tag: 'link', attrs: { rel: 'apple-touch-icon', href: `${o.base}icons/icon-192.png` }, injectTo: 'head' },
    ],
    async generateBundle(_options, bundle) {
      for (const icon of icons) this.emitFile({ type: 'asset', fileName: icon.file, source: icon.draw() });
      this.emitFile({ type: 'asset', fileName: 'icons/icon.svg', source: SHIELD_SVG });
      const manifest = {
        id: o.base,
        name: o.name,
        short_name: o.shortName,
        description: o.description,
        start_url: o.base,
        scope: o.base,
        display: 'standalone',
        theme_color: THEME,
        background_color: BACKGROUND,
        icons: [
          ...icons.map((i) => ({ src: `${o.base}${i.file}`, sizes: `${i.size}x${i.size}`, type: 'image/png', purpose: i.purpose })),
          { src: `${o.base}icons/icon.svg`, sizes: 'any', type: 'image/svg+xml', purpose: 'any' },
        ],
      };
      this.emitFile({ type: 'asset', fileName: 'manifest.webmanifest', source: `${JSON.stringify(manifest, null, 2)}\n` });

      // The shell: every file of this build (the page itself as `./`, what the server shows at the base).
      const files = Object.keys(bundle).filter((f) => !f.endsWith('.map')).sort();
      const hash = createHash('sha256');
      for (const f of files) {
        const item = bundle[f]!;
        hash.update(f).update(item.type === 'chunk' ? item.code : item.source);
      }
      const version = hash.digest('hex').slice(0, 16);
      const shell = files.map((f) => (f === 'index.html' ? './' : f));
      const source = fileURLToPath(new URL('./src/sw.ts', import.meta.url));
      const sw = await transformWithEsbuild(readFileSync(source, 'utf8'), source, {
        target: 'es2022',
        format: 'iife', // a classic worker script: the source's `export {}` goes
        minify: true,
        define: { OPENFACTOR_BUILD: JSON.stringify({ version, shell }) },
      });
      this.emitFile({ type: 'asset', fileName: 'sw.js', source: sw.code });
    },
  };
}
