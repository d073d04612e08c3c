/** Number and table formatting for the generated markdown. */
export const n = (v: number): string => v.toLocaleString("en-US", { maximumFractionDigits: 1 });
export const pct = (v: number): string => `${v.toFixed(1)} %`;
const row = (cells: Array<string | number>): string => `| ${cells.join(" | ")} |`;

export function table(head: string[], rows: Array<Array<string | number>>): string {
  return [row(head), row(head.map(() => "---")), ...rows.map(row)].join("\n");
}
