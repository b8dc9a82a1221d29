declare const __MCAE_TEST_HOOKS__: boolean; // vite.config.ts: MCAE_TEST_HOOKS=1 npm run build
declare const __MCAE_ID_PATTERN__: string; // vite.config.ts: the catalog id pattern, read from openapi.json
