declare const __MCAE_TEST_HOOKS__: boolean; // vite.config.ts: MCAE_TEST_HOOKS=1 npm run build
