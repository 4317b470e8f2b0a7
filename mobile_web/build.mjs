// Builds the phone client into dist/: one bundled script and stylesheet (no CDN, nothing
// loaded from elsewhere), index.html with its CSP, the manifest and the icons.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { icons } from "./icons.mjs";

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, "dist");
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });

await build({
  entryPoints: { app: join(root, "src", "main.ts") },
  outdir: dist,
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  legalComments: "linked",
  logLevel: "warning",
});

for (const name of ["index.html", "manifest.webmanifest"]) {
  copyFileSync(join(root, "static", name), join(dist, name));
}
for (const [name, data] of Object.entries(icons())) writeFileSync(join(dist, name), data);

let total = 0;
let gzipped = 0;
for (const name of ["index.html", "app.js", "app.css"]) {
  const data = readFileSync(join(dist, name));
  total += data.length;
  gzipped += gzipSync(data, { level: 9 }).length;
}
console.log(`mobile_web: dist/ built; code ${(total / 1024).toFixed(1)} KiB, ${(gzipped / 1024).toFixed(1)} KiB gzipped`);
