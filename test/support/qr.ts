// Reading a QR code as an authenticator app would: fetch the PNG, decode it, parse the URI.
import jsQRModule from 'jsqr';

// jsqr is CommonJS with `exports.default`; under ESM the function sits one level down.
const jsQR = ((jsQRModule as unknown as { default?: unknown }).default ?? jsQRModule) as unknown as typeof jsQRModule.default;
import { PNG } from 'pngjs';
import { fromBase32 } from '../../src/core/otp.ts';
import type { TestApp } from './harness.ts';
import { call } from './http.ts';

export interface ScannedQr {
  uri: URL;
  secret: Buffer;
  width: number;
  body: any;
}

export function decodeQrPng(png: Buffer): { text: string; width: number } {
  const img = PNG.sync.read(png);
  const found = jsQR(new Uint8ClampedArray(img.data.buffer, img.data.byteOffset, img.data.length), img.width, img.height);
  if (!found) throw new Error('no QR code in the image');
  return { text: found.data, width: img.width };
}

/** POST users/{id}/secret, then fetch the linked PNG without an API key and scan it. */
export async function scanSecret(t: TestApp, userId: number, form = '', key = t.apiKey): Promise<ScannedQr> {
  const r = await call(t.of.server, 'POST', `/protected/json/users/${userId}/secret`, { key, form });
  if (r.status !== 200) throw new Error(`secret: ${r.status} ${r.text}`);
  const link = new URL(r.json.qr_code);
  const img = await t.of.server.inject({ method: 'GET', url: link.pathname });
  if (img.statusCode !== 200) throw new Error(`qr image: ${img.statusCode} ${img.body}`);
  const { text, width } = decodeQrPng(img.rawPayload);
  const uri = new URL(text);
  return { uri, secret: fromBase32(uri.searchParams.get('secret')!), width, body: r.json };
}

export const qrSecretOf = async (t: TestApp, userId: number) => (await scanSecret(t, userId)).secret;

/** The same over a real socket, as an application's own code would: POST, fetch the PNG, scan. */
export async function scanSecretOverHttp(base: string, apiKey: string, userId: number): Promise<Buffer> {
  const res = await fetch(`${base}/protected/json/users/${userId}/secret`, { method: 'POST', headers: { 'X-Authy-API-Key': apiKey } });
  const { qr_code } = await res.json();
  const png = Buffer.from(await (await fetch(qr_code)).arrayBuffer());
  return fromBase32(new URL(decodeQrPng(png).text).searchParams.get('secret')!);
}
