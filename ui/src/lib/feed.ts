import type { ClusterEvent } from "../api/types";

/** Size change per cluster in the newest detection run of `events` (what "growth since the
 * last refresh" means in the queue); a cluster that run created counts as new. */
export function growthSinceLastRefresh(events: ClusterEvent[]): {
  runId: string | null;
  growth: Map<string, number | "new">;
} {
  let runId: string | null = null;
  for (const e of events) if (e.runId && e.type !== "VERDICT_SET") runId = e.runId;
  const growth = new Map<string, number | "new">();
  if (runId === null) return { runId, growth };
  for (const e of events) {
    if (e.runId !== runId) continue;
    if (e.type === "CREATED" || e.type === "REGROWN" || (e.type === "SPLIT" && e.sizeBefore == null)) {
      growth.set(e.clusterId, "new");
    } else if (e.sizeAfter != null && e.sizeBefore != null) {
      const before = growth.get(e.clusterId);
      if (before === "new") continue;
      growth.set(e.clusterId, (before ?? 0) + (e.sizeAfter - e.sizeBefore));
    }
  }
  return { runId, growth };
}

/** Append a page of the feed to what is shown, newest first, without repeats (a poll may
 * overlap the previous one) and at most `cap` kept. */
export function mergeFeed(shown: ClusterEvent[], page: ClusterEvent[], cap = 500): ClusterEvent[] {
  const seen = new Set(shown.map((e) => e.seq));
  const fresh = page.filter((e) => !seen.has(e.seq)).sort((a, b) => b.seq - a.seq);
  return [...fresh, ...shown].slice(0, cap);
}

export function countByType(events: ClusterEvent[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of events) out[e.type] = (out[e.type] ?? 0) + 1;
  return out;
}
