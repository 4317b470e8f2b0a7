import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [
    cloudflareTest({
      main: "./src/index.ts",
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        assets: { directory: "./test/assets", binding: "ASSETS" },
        bindings: {
          PAIR_TOKEN_SECRET: "test-pepper-0123456789abcdef0123456789abcdef",
          REGISTER_RATE: "3",
        },
      },
    }),
  ],
});
