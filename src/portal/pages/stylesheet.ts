/**
 * The portal's one stylesheet, served from /portal/assets/portal.css (the CSP allows
 * style-src 'self' only). Readable on a phone: one column, 16px+ text, large touch targets;
 * contrast at least 4.5:1; a visible focus ring on every control.
 */
export const PORTAL_CSS = `*, *::before, *::after { box-sizing: border-box; }
html { font-size: 100%; -webkit-text-size-adjust: 100%; }
body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; line-height: 1.5;
  color: #1a1a1a; background: #f4f5f7; }
.bar { background: #0b3d6b; color: #ffffff; padding: 0.75rem 1rem; }
.bar p { margin: 0; font-weight: 600; }
main { max-width: 42rem; margin: 0 auto; padding: 1rem; }
.card { background: #ffffff; border: 1px solid #c9ced6; border-radius: 6px; padding: 1rem 1.25rem; margin: 0 0 1rem; }
h1 { font-size: 1.5rem; line-height: 1.25; margin: 0.5rem 0 1rem; }
h2 { font-size: 1.2rem; margin: 0 0 0.75rem; }
a { color: #0b4f8a; }
a:hover { color: #06315a; }
label { display: block; font-weight: 600; margin: 0 0 0.25rem; }
.hint { color: #4a4f57; margin: 0 0 0.5rem; font-size: 0.95rem; }
input[type="text"], textarea { display: block; width: 100%; font: inherit; font-size: 1.1rem; padding: 0.6rem 0.7rem;
  color: #1a1a1a; background: #ffffff; border: 2px solid #5b6270; border-radius: 4px; }
input.code { max-width: 12rem; letter-spacing: 0.2em; }
textarea { min-height: 10rem; resize: vertical; }
button { font: inherit; font-weight: 600; min-height: 2.75rem; padding: 0.6rem 1.2rem; margin: 0.75rem 0 0;
  color: #ffffff; background: #0b5394; border: 2px solid #0b5394; border-radius: 4px; cursor: pointer; }
button:hover { background: #083f70; }
button.secondary { color: #0b4f8a; background: #ffffff; }
:focus-visible { outline: 3px solid #b35c00; outline-offset: 2px; }
input:focus-visible, textarea:focus-visible { border-color: #0b5394; }
.error { color: #8a1414; background: #fdecec; border-left: 4px solid #8a1414; padding: 0.5rem 0.75rem; margin: 0 0 0.75rem; }
.ok { color: #13491f; background: #e8f5eb; border-left: 4px solid #1f6b30; padding: 0.5rem 0.75rem; margin: 0 0 0.75rem; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 0.75rem; margin: 0; }
dl.meta dt { font-weight: 600; }
dl.meta dd { margin: 0; overflow-wrap: anywhere; }
.content { overflow-wrap: anywhere; }
.content img { max-width: 100%; height: auto; }
.content table { border-collapse: collapse; max-width: 100%; display: block; overflow-x: auto; }
.content td, .content th { border: 1px solid #c9ced6; padding: 0.25rem 0.5rem; }
.files { padding-left: 1.25rem; }
.files li { margin: 0.25rem 0; }
@media (max-width: 30rem) {
  main { padding: 0.5rem; }
  .card { padding: 0.75rem; }
  button { width: 100%; }
  dl.meta { grid-template-columns: 1fr; }
}
`;
