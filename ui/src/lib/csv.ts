// CSV for spreadsheets: quoted where needed, and a cell that a spreadsheet would run as a
// formula (=, +, -, @, tab, CR) is prefixed with a quote, since account data is
// attacker-controlled (CSV injection).
const FORMULA = /^[=+\-@\t\r]/;

export function csvCell(value: unknown): string {
  if (value == null) return "";
  let text = typeof value === "number" ? String(value) : String(value);
  if (typeof value !== "number" && FORMULA.test(text)) text = `'${text}`;
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function toCsv(header: string[], rows: unknown[][]): string {
  return [header, ...rows].map((row) => row.map(csvCell).join(",")).join("\r\n") + "\r\n";
}
