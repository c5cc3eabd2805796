/** Signups per hour, from the first to the last (empty hours included, so bursts show). */
export function signupsPerHour(timestamps: (string | null)[], maxBins = 400): { start: number; counts: number[]; binHours: number } {
  const times = timestamps.filter((t): t is string => !!t).map((t) => Date.parse(t)).filter((t) => !Number.isNaN(t));
  if (times.length === 0) return { start: 0, counts: [], binHours: 1 };
  const hour = 3600_000;
  const first = Math.floor(Math.min(...times) / hour) * hour;
  const last = Math.max(...times);
  const span = Math.floor((last - first) / hour) + 1;
  const binHours = Math.max(1, Math.ceil(span / maxBins));
  const counts = new Array<number>(Math.ceil(span / binHours)).fill(0);
  for (const t of times) counts[Math.floor((t - first) / hour / binHours)] += 1;
  return { start: first, counts, binHours };
}

export interface ModelRush {
  model: string;
  accounts: number;
  within24h: number;
  medianHours: number | null;
}

/** Per model: how many members used it and how fast after its release (the distillation
 * tell: half the traffic moved to a new model within a day of its release). */
export function modelRush(members: { model: string; hoursAfterRelease: number | null }[][]): ModelRush[] {
  const byModel = new Map<string, number[]>();
  const users = new Map<string, number>();
  for (const models of members) {
    for (const m of models) {
      users.set(m.model, (users.get(m.model) ?? 0) + 1);
      if (m.hoursAfterRelease != null) {
        const list = byModel.get(m.model) ?? [];
        list.push(m.hoursAfterRelease);
        byModel.set(m.model, list);
      }
    }
  }
  return [...users.entries()]
    .map(([model, accounts]) => {
      const hours = (byModel.get(model) ?? []).sort((a, b) => a - b);
      return {
        model,
        accounts,
        within24h: hours.filter((h) => h <= 24).length,
        medianHours: hours.length ? hours[Math.floor((hours.length - 1) / 2)] : null,
      };
    })
    .sort((a, b) => b.accounts - a.accounts || a.model.localeCompare(b.model));
}
