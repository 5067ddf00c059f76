import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

const here = fileURLToPath(new URL('.', import.meta.url));

// The console: web/ in, dist/web/ out. The server serves dist/web/ at `/`.
// `MESHVPC_API=http://127.0.0.1:8089 npx vite --config web/vite.config.ts` proxies /api during development.
export default defineConfig({
  root: here,
  base: '/',
  plugins: [preact({ prerender: { enabled: false } })],
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2020',
    sourcemap: false,
    reportCompressedSize: true,
  },
  server: {
    proxy: process.env.MESHVPC_API ? { '/api': { target: process.env.MESHVPC_API, changeOrigin: false } } : undefined,
  },
});
