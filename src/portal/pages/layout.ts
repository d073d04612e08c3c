import { esc } from "./html.ts";

/**
 * The frame of every portal page: a language, a viewport for phones, a title, the one
 * stylesheet, a banner and one main landmark holding the page's h1. No script anywhere.
 */
export const STYLESHEET_PATH = "/portal/assets/portal.css";

export function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>${esc(title)} – Secure message</title>
<link rel="stylesheet" href="${STYLESHEET_PATH}">
</head>
<body>
<header class="bar"><p>Secure message</p></header>
<main id="main">
<h1>${esc(title)}</h1>
${body}
</main>
</body>
</html>
`;
}
