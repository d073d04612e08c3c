/**
 * Compiles src/ to dist/ (run by `npm install` as the prepare script, and by the bench).
 * The stamp written last records which sources dist/ was built from; bin/sealpost.js
 * runs dist/ only while the stamp matches. A failed build removes the stamp and does not
 * fail the install: sealpost then runs from its sources, as it always can.
 */
import { spawnSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { sourceStamp } from "../bin/source-stamp.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const dist = fileURLToPath(new URL("../dist", import.meta.url));
rmSync(dist, { recursive: true, force: true });
const stamp = sourceStamp(fileURLToPath(new URL("../src", import.meta.url)));
const tsc = fileURLToPath(new URL("../node_modules/.bin/tsc", import.meta.url));
const result = spawnSync(tsc, ["-p", "tsconfig.build.json"], { cwd: root, stdio: "inherit" });
if (result.status === 0) {
  writeFileSync(`${dist}/.source-stamp`, `${stamp}\n`);
} else {
  rmSync(dist, { recursive: true, force: true });
  process.stderr.write("sealpost: compiling src/ failed; it will run from its sources.\n");
}
