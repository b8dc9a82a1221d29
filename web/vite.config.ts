import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// `npm run dev` proxies the API to a running `mcae serve` (MCAE_API, default :8000).
const api = process.env.MCAE_API ?? 'http://127.0.0.1:8000';
const root = fileURLToPath(new URL('.', import.meta.url));

// The id rule of cities, layers and districts comes from the API's own schema (openapi.json,
// written from mcae.tiles.catalog.ID_PATTERN), so the web never keeps a copy of it.
function idPattern(): string {
  const spec = JSON.parse(readFileSync(resolve(root, 'openapi.json'), 'utf8'));
  const params: { name: string; schema?: { pattern?: string } }[] = spec.paths['/api/cities/{city}']?.get?.parameters ?? [];
  const pattern = params.find((p) => p.name === 'city')?.schema?.pattern;
  if (!pattern) throw new Error('openapi.json: /api/cities/{city} names no id pattern');
  return pattern;
}

// One page per tool beside the viewer; they share src/shared (one API client, sign-in, top bar).
// The app serves dist/ with StaticFiles(html=True): /annotate/ is dist/annotate/index.html.
const pages = {
  viewer: resolve(root, 'index.html'),
  annotate: resolve(root, 'annotate/index.html'),
  refine: resolve(root, 'refine/index.html'),
  review: resolve(root, 'review/index.html'),
  dashboard: resolve(root, 'dashboard/index.html'),
  assess: resolve(root, 'assess/index.html'),
};

export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 1200,
    rollupOptions: { input: pages },
  },
  // test hooks (window.mcae*) only when a build asks for them: MCAE_TEST_HOOKS=1 npm run build
  define: {
    __MCAE_TEST_HOOKS__: JSON.stringify(process.env.MCAE_TEST_HOOKS === '1'),
    __MCAE_ID_PATTERN__: JSON.stringify(idPattern()),
  },
  server: {
    proxy: { '/api': api, '/cities': api },
  },
});
