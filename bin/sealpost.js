#!/usr/bin/env node
// sealpost runs on Node 24. `npm install` provides Node 24 in node_modules/.bin; when
// started by an older node, re-run there. `npm install` also compiles src/ to dist/
// (scripts/build.ts): the compiled code starts faster and needs less memory than the
// sources with their types stripped at load time. dist/ is used only while it was built
// from the current sources; otherwise (an edited tree, SEALPOST_FROM_SOURCE=1) the
// sources run directly.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { compiledIsCurrent } from "./source-stamp.js";

const major = Number(process.versions.node.split(".")[0]);
if (major < 24) {
  const local = fileURLToPath(new URL("../node_modules/.bin/node", import.meta.url));
  if (!existsSync(local)) {
    process.stderr.write("sealpost needs Node.js 24 or newer: run `npm install` first.\n");
    process.exit(1);
  }
  const result = spawnSync(local, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: "inherit",
  });
  process.exit(result.status ?? 1);
}

const repo = fileURLToPath(new URL("..", import.meta.url));
const { main } =
  process.env.SEALPOST_FROM_SOURCE !== "1" && compiledIsCurrent(repo)
    ? await import("../dist/cli/main.js")
    : await import("../src/cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
