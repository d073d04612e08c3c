/**
 * The URL of a module beside `base` (an `import.meta.url`), for worker-thread entry
 * points: `.ts` beside the sources, `.js` beside the compiled dist/ (ADR 0007).
 */
export function siblingModule(base: string, name: string): URL {
  return new URL(`./${name}${base.endsWith(".ts") ? ".ts" : ".js"}`, base);
}
