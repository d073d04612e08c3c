/**
 * `npm install` compiles src/ to dist/ (scripts/build.ts) and bin/sealpost.js runs dist/
 * only while it was built from the current sources (bin/source-stamp.js).
 */
import assert from "node:assert/strict";
import { mkdirSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { compiledIsCurrent, sourceStamp } from "../bin/source-stamp.js";
import { tempDir } from "./helpers/app.ts";

test("the source stamp changes with any .ts file's name, size or mtime, not with other files", () => {
  const repo = tempDir("sealpost-stamp-");
  mkdirSync(join(repo, "src", "a"), { recursive: true });
  writeFileSync(join(repo, "src", "a", "x.ts"), "export const x = 1;\n");
  const first = sourceStamp(join(repo, "src"));
  assert.equal(sourceStamp(join(repo, "src")), first, "stable");
  writeFileSync(join(repo, "src", "notes.txt"), "ignored");
  assert.equal(sourceStamp(join(repo, "src")), first, "non-TypeScript files do not count");
  utimesSync(join(repo, "src", "a", "x.ts"), new Date(1), new Date(2_000_000));
  const touched = sourceStamp(join(repo, "src"));
  assert.notEqual(touched, first, "an edit (mtime) changes it");
  writeFileSync(join(repo, "src", "a", "y.ts"), "");
  assert.notEqual(sourceStamp(join(repo, "src")), touched, "a new file changes it");

  assert.equal(compiledIsCurrent(repo), false, "no dist: run the sources");
  mkdirSync(join(repo, "dist"));
  writeFileSync(join(repo, "dist", ".source-stamp"), `${sourceStamp(join(repo, "src"))}\n`);
  assert.equal(compiledIsCurrent(repo), true);
  writeFileSync(join(repo, "src", "a", "y.ts"), "export {};\n");
  assert.equal(compiledIsCurrent(repo), false, "an edited tree never runs stale dist");
});

test("in CI the suite runs what npm ci built: dist/ is current", (t) => {
  if (process.env.CI !== "true") {
    t.skip("CI only: a developer's edited tree falls back to the sources by design");
    return;
  }
  assert.ok(compiledIsCurrent(fileURLToPath(new URL("..", import.meta.url))), "npm ci built dist/ from src/");
});
