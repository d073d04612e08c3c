import { SETTINGS } from "./schema.ts";

/** Renders docs/configuration.md from the schema; a test keeps the file current. */
export function renderConfigDocs(): string {
  const lines = [
    "# Configuration",
    "",
    "<!-- Generated from src/config/schema.ts by `npm run docs:config`. Do not edit by hand. -->",
    "",
    "sealpost reads its settings from the environment (and optionally a JSON file named by",
    "`SEALPOST_CONFIG_FILE`; the environment wins). Every setting is validated once at start;",
    "a bad value stops start-up with a message naming the setting, never echoing its value.",
    "",
    "| Variable | Default | Description |",
    "| --- | --- | --- |",
  ];
  for (const s of Object.values(SETTINGS)) {
    const def = "defaultText" in s && s.defaultText !== undefined ? `\`${s.defaultText}\`` : "unset";
    const secret = "secret" in s && s.secret ? " *(secret)*" : "";
    lines.push(`| \`${s.env}\` | ${def} | ${s.description.replace(/\|/g, "\\|")}${secret} |`);
  }
  lines.push("");
  return lines.join("\n");
}
