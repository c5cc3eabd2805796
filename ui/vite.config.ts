import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// Served by the API under /ui (backend/api/console.py); every asset is bundled so the console
// works air-gapped. The named operations are read from ../graphql/operations at build time.
export default defineConfig({
  base: "/ui/",
  plugins: [react()],
  server: { fs: { allow: [".."] } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    // GraphiQL's editor (monaco) is large; it is its own chunk, loaded only by the explorer.
    chunkSizeWarningLimit: 4000,
    rolldownOptions: {
      onwarn(warning, warn) {
        // graphiql's "use no memo" directives: meaningful only to the React compiler.
        if (warning.code === "MODULE_LEVEL_DIRECTIVE") return;
        warn(warning);
      },
    },
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
