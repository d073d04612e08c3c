/**
 * Headless Chromium for the portal's end-to-end tests, driven by playwright-core (no
 * browser download: the distribution's /usr/bin/chromium). A missing Chromium skips the
 * test, unless SEALPOST_REQUIRE_TOOLS=1 (CI), where it fails, as test/helpers/tools.ts does
 * for the other real tools. `axeViolations` runs axe-core on a page's HTML in a context of
 * its own that bypasses the CSP, for the injection only: the pages under test keep theirs.
 */
import { accessSync, appendFileSync, constants, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { relative } from "node:path";
import type { TestContext } from "node:test";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

function chromiumProblem(): string | null {
  try {
    accessSync(CHROMIUM, constants.X_OK);
    return null;
  } catch {
    return `${CHROMIUM} is missing; install the chromium package`;
  }
}

/** Chromium, or null after skipping `t` (throws with SEALPOST_REQUIRE_TOOLS=1). Closed after the test. */
export async function launchBrowser(t: TestContext): Promise<Browser | null> {
  const problem = chromiumProblem();
  if (problem !== null) {
    const reason = `missing tool: chromium (${problem})`;
    if (process.env.SEALPOST_REQUIRE_TOOLS === "1")
      throw new Error(`${reason}; SEALPOST_REQUIRE_TOOLS=1 forbids skipping`);
    t.skip(reason);
    const logFile = process.env.SEALPOST_SKIP_LOG;
    if (logFile !== undefined && logFile !== "") {
      const file = process.argv[1] === undefined ? "?" : relative(process.cwd(), process.argv[1]);
      appendFileSync(logFile, `${file} > ${t.fullName}: ${reason}\n`);
    }
    return null;
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  t.after(() => browser.close());
  return browser;
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: number;
}

/**
 * axe-core's violations of the page as the visitor sees it now: its HTML is loaded, at the
 * same origin (so its stylesheet applies), into a page of a CSP-bypassing context, where
 * axe is injected and run.
 */
export async function axeViolations(browser: Browser, page: Page): Promise<AxeViolation[]> {
  const html = await page.content();
  const origin = new URL(page.url()).origin;
  const context: BrowserContext = await browser.newContext({
    bypassCSP: true,
    viewport: page.viewportSize(),
  });
  try {
    const probe = await context.newPage();
    // Any page of the portal's origin: setContent keeps its URL, so relative links resolve.
    await probe.goto(`${origin}/portal/assets/portal.css`);
    await probe.setContent(html, { waitUntil: "load" });
    await probe.addScriptTag({ content: AXE_SOURCE });
    return await probe.evaluate(async () => {
      const axe = (globalThis as unknown as { axe: { run(): Promise<{ violations: unknown[] }> } }).axe;
      const result = await axe.run();
      return (
        result.violations as { id: string; impact: string | null; help: string; nodes: unknown[] }[]
      ).map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length }));
    });
  } finally {
    await context.close();
  }
}

/** The serious and critical ones, which fail a test. */
export async function seriousViolations(browser: Browser, page: Page): Promise<AxeViolation[]> {
  return (await axeViolations(browser, page)).filter(
    (v) => v.impact === "serious" || v.impact === "critical",
  );
}
