import { defineConfig } from "vite";

// Built into web/dist and served by FastAPI at `/` (api/spa.py). `npm run dev` proxies the API
// to a local `infrence serve`.
const api = "http://127.0.0.1:8000";

export default defineConfig({
  oxc: { jsx: { runtime: "automatic" } },
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 400 },
  server: { proxy: { "/api": api, "/v1": api, "/healthz": api } },
});
