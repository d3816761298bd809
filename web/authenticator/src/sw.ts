// The authenticator's service worker (built by ../pwa.ts into dist/authenticator/sw.js, scope
// /authenticator/). It keeps the app shell (the page, its script and style, manifest and icons) so
// the app opens without a network and shows codes: the accounts and the device key are in
// IndexedDB, codes are computed in the page. It answers nothing else: the device API
// (/device/v1/…, sign-in requests among them) always goes to the network and is never cached, so
// nothing stale is ever shown as if fresh.
export {}; // a module: these declarations stay in this file

/** Set at build: the shell's files (relative to the scope) and a hash of them all. */
declare const OPENFACTOR_BUILD: { version: string; shell: string[] };

// The few service-worker types used here (the project's TypeScript has the DOM's, not WebWorker's).
interface ExtendableEvent extends Event {
  waitUntil(work: Promise<unknown>): void;
}
interface FetchEvent extends ExtendableEvent {
  readonly request: Request;
  respondWith(answer: Promise<Response>): void;
}
interface WorkerScope {
  readonly registration: { readonly scope: string };
  readonly clients: { claim(): Promise<void> };
  skipWaiting(): Promise<void>;
  addEventListener(type: 'install' | 'activate', fn: (e: ExtendableEvent) => void): void;
  addEventListener(type: 'fetch', fn: (e: FetchEvent) => void): void;
}

const worker = self as unknown as WorkerScope;
const PREFIX = 'openfactor-authenticator-';
const CACHE = PREFIX + OPENFACTOR_BUILD.version;
const scope = new URL(worker.registration.scope);
const shell = new Set(OPENFACTOR_BUILD.shell.map((f) => new URL(f, scope).href));
const page = new URL('./', scope).href;

worker.addEventListener('install', (e) => {
  // `reload`: from the server, not from an HTTP cache that may hold the previous build.
  e.waitUntil(
    caches
      .open(CACHE)
      .then((c) => c.addAll([...shell].map((url) => new Request(url, { cache: 'reload' }))))
      .then(() => worker.skipWaiting()),
  );
});

worker.addEventListener('activate', (e) => {
  // The previous builds' files go; the open pages are taken over at once (nothing to reload).
  e.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith(PREFIX) && n !== CACHE).map((n) => caches.delete(n))))
      .then(() => worker.clients.claim()),
  );
});

worker.addEventListener('fetch', (e) => {
  const req = e.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  url.search = '';
  if (req.mode === 'navigate' && url.href === page) {
    // The page from the server when it can be reached (a new build shows at once), else the kept one.
    e.respondWith(fetch(req).catch(async () => (await caches.match(page, { cacheName: CACHE })) ?? Response.error()));
    return;
  }
  // Files of the shell are named after their content: the kept copy is the right one.
  if (shell.has(url.href)) e.respondWith(caches.match(url.href, { cacheName: CACHE }).then((kept) => kept ?? fetch(req)));
  // Anything else (the device API above all) is not answered here: it goes to the network as usual.
});
