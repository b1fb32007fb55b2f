// The dashboard is a static bundle the coordinator serves at `/`; relative asset paths keep it
// working behind a proxy that mounts the coordinator under a prefix.
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

const root = fileURLToPath(new URL('.', import.meta.url))

export default defineConfig({
  root,
  base: './',
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('./dist', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
  },
  server: {
    // `vite --config web-dashboard/vite.config.ts` during development: the API comes from `tessera dev`.
    proxy: { '/api': process.env['TESSERA_API'] ?? 'http://127.0.0.1:7070' },
  },
})
