// The authenticator web app: a static page built into dist/authenticator and served by OpenFactor
// at /authenticator/. It is an OpenFactor device, through the device SDK (sdk/device).
import { pageConfig } from '../shared/vite-page.ts';

export default pageConfig('authenticator');
