// Copies the API reference pages (web/docs) and the Swagger UI and ReDoc files they load from
// node_modules into dist/docs, so /docs and /redoc work with no CDN (offline, strict CSP).
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const web = new URL("..", import.meta.url).pathname;
const out = join(web, "dist", "docs");
mkdirSync(out, { recursive: true });
const vendored = [
  ["node_modules/swagger-ui-dist", "swagger-ui-bundle.js"],
  ["node_modules/swagger-ui-dist", "swagger-ui.css"],
  ["node_modules/redoc/bundles", "redoc.standalone.js"],
];
for (const [dir, name] of vendored) copyFileSync(join(web, dir, name), join(out, name));
for (const name of readdirSync(join(web, "docs"))) copyFileSync(join(web, "docs", name), join(out, name));
// ReDoc's sidebar footer loads its logo from cdn.redoc.ly whatever the options: point it here.
const redoc = join(out, "redoc.standalone.js");
const cdnLogo = "https://cdn.redoc.ly/redoc/logo-mini.svg";
const source = readFileSync(redoc, "utf8");
if (!source.includes(cdnLogo)) throw new Error(`${cdnLogo} not found in redoc.standalone.js: check /redoc offline`);
writeFileSync(redoc, source.replaceAll(cdnLogo, "/docs/redoc-logo.svg"));
console.log(`api docs: ${vendored.length} vendored files and our pages -> dist/docs`);
