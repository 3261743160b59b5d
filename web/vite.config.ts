// Vite build of the OpenLedger web app: served by openledgerd at /app (`--web-dir web/dist`).
// Preact's JSX through esbuild, no plugins; one hashed JS and CSS bundle under dist/assets.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/app/",
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    chunkSizeWarningLimit: 1024,
    reportCompressedSize: true,
    rollupOptions: {
      onwarn(warning, warn) {
        // @scure/base's /* @__PURE__ */ placement: harmless, and not ours to fix.
        if (warning.code === "INVALID_ANNOTATION") return;
        warn(warning);
      },
    },
  },
  server: {
    // `npm run dev` against a local node: the REST port serves the API.
    proxy: {
      "/cosmos": "http://127.0.0.1:1317",
      "/openledger": "http://127.0.0.1:1317",
    },
  },
});
