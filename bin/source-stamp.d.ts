/** The fingerprint of the .ts files under `root` (paths, sizes, mtimes). */
export function sourceStamp(root: string): string;
/** Whether `<repo>/dist` was built from the current `<repo>/src`. */
export function compiledIsCurrent(repo: string): boolean;
