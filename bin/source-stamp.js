// The fingerprint of src/ that a build of dist/ was made from (paths, sizes, mtimes).
// bin/sealpost.js runs dist/ only while it matches, so an edited source tree never runs
// stale compiled code: it falls back to the sources (Node strips their types).
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

export function sourceStamp(root) {
  const hash = createHash("sha256");
  const entries = readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .map((e) => join(e.parentPath, e.name))
    .sort();
  for (const path of entries) {
    const st = statSync(path);
    hash.update(`${relative(root, path)}\0${st.size}\0${st.mtimeMs}\n`);
  }
  return hash.digest("hex");
}

/** Whether `<repo>/dist` was built from the current `<repo>/src`. */
export function compiledIsCurrent(repo) {
  const stampFile = join(repo, "dist", ".source-stamp");
  if (!existsSync(stampFile)) return false;
  return readFileSync(stampFile, "utf8").trim() === sourceStamp(join(repo, "src"));
}
