// The OneTouch callback on the wire (wire reference §3): JSON for POST, the flattened query for
// GET, signed with the application's API key; the nonce is the attempt's Unix time.
import { authySignature, flattenForGet } from '../../core/authy-signature.ts';
import type { DueHook, SignedRequest } from '../../delivery/hooks.ts';
import type { Applications } from '../applications/service.ts';

export const callbackSigner =
  (applications: Applications) =>
  async (h: DueHook): Promise<SignedRequest | undefined> => {
    const key = await applications.apiKeyOf(h.appId);
    if (!key) return undefined;
    const nonce = String(Math.floor(Date.now() / 1000));
    const headers: Record<string, string> = {
      'x-authy-signature-nonce': nonce,
      'x-authy-signature': authySignature(key, nonce, h.method, h.url, h.payload),
      'user-agent': 'OpenFactor-Callbacks/1',
    };
    if (h.method === 'GET') return { url: `${h.url}${h.url.includes('?') ? '&' : '?'}${flattenForGet(h.payload)}`, method: 'GET', headers };
    return { url: h.url, method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(h.payload) };
  };
