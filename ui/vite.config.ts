import { defineConfig } from 'vitest/config';

// No React plugin: esbuild's automatic JSX runtime is all the app needs.
export default defineConfig({
  esbuild: { jsx: 'automatic' },
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 2500,
    rollupOptions: {
      onwarn(warning, warn) {
        // antd marks its modules "use client" for React Server Components; meaningless here.
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
      output: {
        manualChunks(id: string) {
          if (id.includes('node_modules/echarts') || id.includes('node_modules/zrender')) return 'echarts';
          if (id.includes('node_modules/')) return 'vendor';
          return undefined;
        },
      },
    },
  },
  server: {
    // `npm run dev` against a running `kairos serve`: KAIROS_URL=http://127.0.0.1:7878
    proxy: process.env.KAIROS_URL
      ? Object.fromEntries(
          ['/api', '/healthz', '/metrics'].map((p) => [
            p,
            { target: process.env.KAIROS_URL, changeOrigin: true, headers: { origin: '' } },
          ]),
        )
      : undefined,
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
