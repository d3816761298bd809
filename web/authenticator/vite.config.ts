// The authenticator web app: a static page built into dist/authenticator and served by OpenFactor
// at /authenticator/. It is an OpenFactor device, through the device SDK (sdk/device), and installs
// as an app that opens offline (./pwa.ts: manifest, icons, service worker).
import { pageConfig } from '../shared/vite-page.ts';
import { installable } from './pwa.ts';

const config = pageConfig('authenticator');

export default {
  ...config,
  plugins: [
    installable({
      base: config.base!,
      name: 'OpenFactor authenticator',
      shortName: 'OpenFactor',
      description: 'Your sign-in codes, offline, and the sign-in requests sent to you.',
    }),
  ],
};
