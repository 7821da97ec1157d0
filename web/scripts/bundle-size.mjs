// Prints the built bundle's gzipped size per file and in total; fails above the budget.
// dist/docs (Swagger UI and ReDoc for /docs and /redoc) is not part of the dashboard: the
// dashboard never loads it, so it is reported apart.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { gzipSync } from "node:zlib";

const BUDGET_BYTES = 350 * 1024;
const dist = new URL("../dist/", import.meta.url).pathname;

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (path === join(dist, "docs")) continue;
    if (statSync(path).isDirectory()) yield* files(path);
    else if (/\.(js|css|html)$/.test(name)) yield path;
  }
}

let total = 0;
for (const path of files(dist)) {
  const gz = gzipSync(readFileSync(path), { level: 9 }).length;
  total += gz;
  console.log(`  ${relative(dist, path).padEnd(40)} ${(gz / 1024).toFixed(1).padStart(7)} KB gzip`);
}
const verdict = total <= BUDGET_BYTES ? "within" : "OVER";
console.log(`bundle: ${(total / 1024).toFixed(1)} KB gzipped in total (${verdict} the ${BUDGET_BYTES / 1024} KB budget)`);
if (total > BUDGET_BYTES) process.exit(1);
