// The README's screenshots (docs/screenshots/), taken from the built pages in Chromium at 1280×800
// and 390×844, after real traffic on a fresh database: users registered, codes sent and checked,
// approval requests made and answered, phone verifications; and the demo login. Run: npm run build && node --import tsx
// scripts/screenshots.ts
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { launchBrowser } from '../test/support/browser.ts';
import { startApp } from '../test/support/harness.ts';
import { codeIn, createUser, delivered } from '../test/support/tokens.ts';
import { createApproval, registerDevice } from '../test/support/onetouch.ts';

const OUT = fileURLToPath(new URL('../docs/screenshots/', import.meta.url));
mkdirSync(OUT, { recursive: true });

const t = await startApp();
const browser = await launchBrowser();
try {
  const base = await t.listen();
  const form = (path: string, body: string, key = t.apiKey) =>
    fetch(`${base}${path}`, { method: 'POST', headers: { 'x-authy-api-key': key, 'content-type': 'application/x-www-form-urlencoded' }, body });
  const names = ['ana', 'bruno', 'carla', 'dinis', 'eva', 'filipe', 'gabriela', 'hugo', 'ines', 'joao', 'karin', 'luis'];
  const ids: number[] = [];
  for (const [i, n] of names.entries()) ids.push(await createUser(t, `${n}@example.com`, `415-555-${String(100 + i).padStart(4, '0')}`));
  for (const id of ids.slice(0, 8)) await fetch(`${base}/protected/json/sms/${id}?force=true`, { headers: { 'x-authy-api-key': t.apiKey } });
  await fetch(`${base}/protected/json/call/${ids[8]}?force=true`, { headers: { 'x-authy-api-key': t.apiKey } });
  // Token verifications: six codes typed right, two wrong, one right code typed twice.
  const verify = (token: string, id: number) => fetch(`${base}/protected/json/verify/${token}/${id}`, { headers: { 'x-authy-api-key': t.apiKey } });
  for (const [n, id] of ids.slice(0, 6).entries()) {
    const code = codeIn((await delivered(t, `+1415555${String(100 + n).padStart(4, '0')}`)).text, 7);
    await verify(code, id);
    if (n === 0) await verify(code, id);
  }
  for (const id of ids.slice(6, 8)) await verify('0000000', id);
  // Approval requests to registered devices: some approved, one denied, some left pending.
  for (const [n, id] of ids.slice(0, 5).entries()) {
    const device = await registerDevice(t, base, id);
    await device.rename(`${names[n][0].toUpperCase()}${names[n].slice(1)}'s phone`);
    await createApproval(t, id, { message: 'Sign in to Example Bank', seconds_to_expire: 300 });
    const [pending] = await device.pendingApprovals();
    if (n < 3) await device.approve(pending);
    else if (n === 3) await device.deny(pending);
  }
  for (let n = 0; n < 4; n++) {
    const phone = `202-555-${String(170 + n).padStart(4, '0')}`;
    await form('/protected/json/phones/verification/start', `via=sms&country_code=1&phone_number=${phone}`);
    if (n < 3) {
      const code = codeIn((await delivered(t, `+1202555${String(170 + n).padStart(4, '0')}`)).text, 4);
      await fetch(`${base}/protected/json/phones/verification/check?country_code=1&phone_number=${phone}&verification_code=${code}`, { headers: { 'x-authy-api-key': t.apiKey } });
    }
  }
  await t.newApplication('Corner Shop');
  // Administrators, one of them with OneTouch on their own phone, and a token for automation.
  const admin = (path: string, body: unknown) =>
    fetch(`${base}${path}`, { method: 'POST', headers: { authorization: `Bearer ${t.config.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.json());
  const ana = await admin('/admin/accounts', { email: 'ana@example.com', name: 'Ana Lima', password: 'a long enough password', role: 'owner' });
  await admin('/admin/accounts', { email: 'sam@example.com', name: 'Sam Reis', role: 'support' });
  await admin(`/admin/accounts/${ana.account.id}/onetouch`, { app_id: t.appId, authy_id: ids[0] });
  await admin('/admin/tokens', { name: 'deploy bot', role: 'read_only' });

  for (const [size, viewport] of [['wide', { width: 1280, height: 800 }], ['narrow', { width: 390, height: 844 }]] as const) {
    const page = await browser.newPage({ viewport });
    await page.goto(`${base}/console/`);
    await page.fill('input[name=token]', t.config.adminToken);
    await page.click('button:text-is("Use the token")');
    await page.waitForSelector('[data-testid=applications] a');
    await page.screenshot({ path: `${OUT}console-applications-${size}.png` });
    for (const [name, hash, ready] of [
      ['overview', '', '[data-testid=chart-messages] canvas'],
      ['users', '/users', '[data-testid=users] tbody tr'],
      ['approvals', '/approvals', '[data-testid=approvals] tbody tr'],
      ['settings', '/settings', 'form.settings'],
      ['admins', '#/admins', '[data-testid=admins] tbody tr'],
    ] as const) {
      await page.goto(`${base}/console/${hash.startsWith('#') ? hash : `#/apps/${t.appId}${hash}`}`);
      await page.waitForSelector(ready);
      await page.screenshot({ path: `${OUT}console-${name}-${size}.png`, fullPage: name === 'overview' && size === 'wide' });
    }
    await page.close();
  }
  // The authenticator: added with a registration token, showing its codes and a sign-in request.
  const carla = ids[2];
  for (const [size, viewport] of [['wide', { width: 1280, height: 800 }], ['narrow', { width: 390, height: 844 }]] as const) {
    const page = await browser.newPage({ viewport });
    const r = await fetch(`${base}/protected/json/sdk/registrations`, { method: 'POST', headers: { 'x-authy-api-key': t.apiKey, 'content-type': 'application/x-www-form-urlencoded' }, body: `authy_id=${carla}` });
    const { registration_token } = (await r.json()) as { registration_token: string };
    await page.goto(`${base}/authenticator/`);
    await page.fill('input[name=token]', registration_token);
    await page.keyboard.press('Enter');
    await page.locator('.account .code').filter({ hasText: /^\d{6,8}$/ }).waitFor();
    await page.waitForSelector('#connection.live');
    if (size === 'wide') await createApproval(t, carla, { message: 'Sign in from Faro', details: { Browser: 'Firefox', Location: 'Faro, PT' } });
    await page.locator('.request', { hasText: 'Sign in from Faro' }).first().waitFor();
    await page.screenshot({ path: `${OUT}authenticator-${size}.png` });
    await page.close();
  }
  // The demo login: signed out, then its second-factor step after the password.
  const { createDemo } = await import('../examples/demo-login/server.ts');
  const demo = await createDemo({ openfactorUrl: base, apiKey: t.apiKey });
  try {
    const demoUrl = await demo.listen({ port: 0, host: '127.0.0.1' });
    const signup = await fetch(`${demoUrl}/api/signup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'mara@example.com', password: 'correct horse battery', country_code: '1', phone: '415-555-0190' }) });
    if (!signup.ok) throw new Error(`demo sign-up: ${signup.status} ${await signup.text()}`);
    for (const [size, viewport] of [['wide', { width: 1280, height: 800 }], ['narrow', { width: 390, height: 844 }]] as const) {
      const page = await (await browser.newContext({ viewport })).newPage();
      await page.goto(demoUrl);
      await page.waitForSelector('input[autocomplete=current-password]');
      await page.screenshot({ path: `${OUT}demo-signed-out-${size}.png` });
      await page.fill('form:has(input[autocomplete=current-password]) input[name=email]', 'mara@example.com');
      await page.fill('input[name=password][autocomplete=current-password]', 'correct horse battery');
      await page.click('button:text("Sign in")');
      await page.waitForSelector('#modal:not([hidden])');
      await page.click('button:text("Text me a code")');
      await page.waitForSelector('input[name=token]');
      await page.screenshot({ path: `${OUT}demo-second-factor-${size}.png` });
      await page.close();
    }
  } finally {
    await demo.close();
  }
  console.log(`screenshots in ${OUT}`);
} finally {
  await browser.close();
  await t.close();
}
