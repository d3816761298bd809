// The admin console: a static page built into dist/console and served by OpenFactor at /console/.
import { pageConfig } from '../shared/vite-page.ts';

export default pageConfig('console');
