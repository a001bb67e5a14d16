// Builds the web UI's page into dist/page: ui/app.ts and what it imports (d3) bundled and minified by esbuild, the
// stylesheet, index.html and the icon copied. Run by `npm run build` and on install (`prepare`); no CDN, no inline code.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'page');
mkdirSync(out, { recursive: true });

await build({
  entryPoints: [join(root, 'ui', 'app.ts')],
  outfile: join(out, 'app.js'),
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022'],
  platform: 'browser',
  legalComments: 'linked',
  logLevel: 'warning',
});
await build({
  entryPoints: [join(root, 'ui', 'style.css')],
  outfile: join(out, 'app.css'),
  bundle: true,
  minify: true,
  logLevel: 'warning',
});
for (const file of ['index.html', 'favicon.svg']) copyFileSync(join(root, 'ui', file), join(out, file));
