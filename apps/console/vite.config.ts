import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

// The gateway serves dist/ under /console (services/gateway/src/console): absolute asset URLs start
// there, and every asset's name carries its content hash, so the gateway can cache them for good.
export default defineConfig({
  base: '/console/',
  plugins: [preact({ prerender: { enabled: false } })],
  // `npm run dev -w @roadmap/console`: the API of a gateway running locally (npm start) on the same origin.
  server: { proxy: { '/api': process.env.CONSOLE_API_URL ?? 'http://127.0.0.1:3000' } },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', reportCompressedSize: false },
  logLevel: 'warn',
});
