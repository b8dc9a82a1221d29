import { defineConfig } from 'vite';

// `npm run dev` proxies the API to a running `mcae serve` (MCAE_API, default :8000).
const api = process.env.MCAE_API ?? 'http://127.0.0.1:8000';

export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 1200,
  },
  server: {
    proxy: { '/api': api, '/cities': api },
  },
});
