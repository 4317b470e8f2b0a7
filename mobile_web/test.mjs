// Runs the TypeScript unit tests with Node's own test runner: esbuild bundles each
// test/*.test.ts into .test-build/ (no type checking here; `npm run typecheck` does that).
import { build } from "esbuild";
import { spawnSync } from "node:child_process";
import { readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(fileURLToPath(import.meta.url));
const out = join(root, ".test-build");
rmSync(out, { recursive: true, force: true });
const tests = readdirSync(join(root, "test")).filter((name) => name.endsWith(".test.ts"));
await build({
  entryPoints: tests.map((name) => join(root, "test", name)),
  outdir: out,
  outExtension: { ".js": ".mjs" },
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: "inline",
  logLevel: "warning",
});
const files = tests.map((name) => join(out, name.replace(/\.ts$/, ".mjs")));
const result = spawnSync(process.execPath, ["--test", ...files, ...process.argv.slice(2)], {
  stdio: "inherit",
  env: { ...process.env, LOOPSY_VECTORS: join(root, "..", "tests", "vectors") },
});
process.exit(result.status ?? 1);
