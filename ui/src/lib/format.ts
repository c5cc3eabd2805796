export function pct(x: number | null | undefined, digits = 0): string {
  return x == null || Number.isNaN(x) ? "–" : `${(x * 100).toFixed(digits)}%`;
}

export function num(x: number | null | undefined): string {
  return x == null ? "–" : x.toLocaleString("en-US");
}

export function fixed(x: number | null | undefined, digits = 3): string {
  return x == null ? "–" : x.toFixed(digits);
}

/** "3 d", "5 h", "12 min": how long ago, coarse on purpose (a queue, not a log). */
export function age(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return "–";
  const seconds = Math.max(0, (now - Date.parse(iso)) / 1000);
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  if (seconds < 36 * 3600) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} d`;
}

export function when(iso: string | null | undefined): string {
  if (!iso) return "–";
  return iso.replace("T", " ").replace(/(\.\d+)?(\+00:00|Z)$/, " UTC");
}

/** Feature names as detection writes them (snake_case) in words. */
export function featureLabel(feature: string): string {
  return feature.replaceAll("_", " ");
}

export function kindLabel(kind: string): string {
  return kind.toLowerCase().replaceAll("_", " ");
}

export function verdictLabel(verdict: string | null | undefined): string {
  return verdict ? verdict.toLowerCase().replaceAll("_", " ") : "unreviewed";
}

/** The strongest terms pushing the risk up, for a one-line "why" in the queue. */
export function topTerms<T extends { feature: string; contribution: number }>(terms: T[], n = 3): T[] {
  return [...terms].filter((t) => t.contribution > 0).sort((a, b) => b.contribution - a.contribution).slice(0, n);
}
