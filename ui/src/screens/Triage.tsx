import { useEffect, useRef, useState } from "react";
import { gql } from "../api/client";
import type { QueueCluster, TriageData } from "../api/types";
import { ErrorBox, Link } from "../components/Link";
import { growthSinceLastRefresh } from "../lib/feed";
import { useFeed } from "../lib/useFeed";
import { age, featureLabel, kindLabel, num, pct, topTerms, verdictLabel } from "../lib/format";

// Active clusters by risk, filtered; kept current by polling the change feed (a poll is one
// small read: the feed's head, then only what is new).
const POLL_MS = 5000;
const FEED_WINDOW = 500;

interface Filters {
  minRisk: number;
  minSize: number;
  verdict: string;
  status: string;
  orderBy: string;
}

const DEFAULT_FILTERS: Filters = { minRisk: 0.5, minSize: 0, verdict: "", status: "ACTIVE", orderBy: "RISK" };

function variables(f: Filters, after: string | null) {
  return {
    minRisk: f.minRisk,
    minSize: f.minSize,
    verdict: f.verdict || null,
    status: f.status || null,
    orderBy: f.orderBy,
    first: 50,
    after,
  };
}

export function Triage() {
  const [filters, setFilters] = useState<Filters>(DEFAULT_FILTERS);
  const [rows, setRows] = useState<QueueCluster[]>([]);
  const [count, setCount] = useState<number | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [fresh, setFresh] = useState(0);
  const filtersRef = useRef(filters);
  filtersRef.current = filters;

  const load = async (f: Filters) => {
    setLoading(true);
    try {
      const data = await gql<TriageData>("TriageQueue", variables(f, null));
      if (filtersRef.current !== f) return;
      setRows(data.clusters.edges.map((e) => e.node));
      setNext(data.clusters.pageInfo.hasNextPage ? data.clusters.pageInfo.endCursor : null);
      setCount(data.clusterCount);
      setError(null);
    } catch (err) {
      setError(err);
    } finally {
      setLoading(false);
    }
  };

  const more = async () => {
    const data = await gql<TriageData>("TriageQueue", variables(filters, next)).catch((err) => {
      setError(err);
      return null;
    });
    if (!data) return;
    setRows((r) => [...r, ...data.clusters.edges.map((e) => e.node)]);
    setNext(data.clusters.pageInfo.hasNextPage ? data.clusters.pageInfo.endCursor : null);
  };

  useEffect(() => {
    void load(filters);
  }, [filters]);

  // The feed: the last FEED_WINDOW events give each cluster's growth; what comes later
  // reloads the queue.
  const { events } = useFeed(FEED_WINDOW, POLL_MS, (fresh) => {
    setFresh((n) => n + fresh.length);
    void load(filtersRef.current);
  });

  useEffect(() => {
    if (rows.length > 0 && performance.getEntriesByName("queue:drawn").length === 0) {
      performance.mark("queue:drawn"); // read by benchmarks/bench_ui.py
    }
  }, [rows]);

  const { growth } = growthSinceLastRefresh([...events].sort((a, b) => a.seq - b.seq));
  const set = (patch: Partial<Filters>) => setFilters((f) => ({ ...f, ...patch }));

  return (
    <section className="triage">
      <h2>
        Triage queue{" "}
        <span className="count" data-testid="cluster-count">
          {count == null ? "" : `${num(count)} clusters`}
        </span>
        {fresh > 0 && (
          <span className="fresh" data-testid="fresh">
            {fresh} change{fresh === 1 ? "" : "s"} from the feed applied
          </span>
        )}
      </h2>
      <form className="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          min risk
          <input type="number" step="0.05" min="0" max="1" value={filters.minRisk} onChange={(e) => set({ minRisk: Number(e.target.value) })} />
        </label>
        <label>
          min size
          <input type="number" min="0" value={filters.minSize} onChange={(e) => set({ minSize: Number(e.target.value) })} />
        </label>
        <label>
          verdict
          <select value={filters.verdict} onChange={(e) => set({ verdict: e.target.value })}>
            <option value="">any</option>
            <option value="NONE">unreviewed</option>
            <option value="CONFIRMED_FRAUD">confirmed fraud</option>
            <option value="NEEDS_REVIEW">needs review</option>
            <option value="FALSE_POSITIVE">false positive</option>
          </select>
        </label>
        <label>
          status
          <select value={filters.status} onChange={(e) => set({ status: e.target.value })}>
            <option value="ACTIVE">active</option>
            <option value="MERGED">merged</option>
            <option value="DISSOLVED">dissolved</option>
            <option value="">any</option>
          </select>
        </label>
        <label>
          order
          <select value={filters.orderBy} onChange={(e) => set({ orderBy: e.target.value })}>
            <option value="RISK">risk</option>
            <option value="SIZE">size</option>
            <option value="REFRESHED">refreshed</option>
            <option value="CREATED">created</option>
          </select>
        </label>
        {loading && <span className="muted">loading…</span>}
      </form>
      <ErrorBox error={error} />
      <table className="grid" data-testid="queue">
        <thead>
          <tr>
            <th>risk</th>
            <th>cluster</th>
            <th className="num">size</th>
            <th className="num">last refresh</th>
            <th>why (top terms)</th>
            <th>shared most</th>
            <th>verdict</th>
            <th>age</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((c) => {
            const g = growth.get(c.id);
            return (
              <tr key={c.id} data-cluster={c.id}>
                <td>
                  <span className="risk" style={{ background: `rgba(192,57,43,${c.risk})` }}>{pct(c.risk)}</span>
                </td>
                <td>
                  <Link to={{ screen: "cluster", id: c.id }}>{c.id}</Link>
                  {c.networkId && c.networkId !== c.id && <div className="muted">network {c.networkId}</div>}
                </td>
                <td className="num">{num(c.size)}</td>
                <td className="num">{g === undefined ? "±0" : g === "new" ? "new" : g > 0 ? `+${g}` : String(g)}</td>
                <td>{topTerms(c.explanation.contributions).map((t) => featureLabel(t.feature)).join(", ")}</td>
                <td>{c.evidence.slice(0, 2).map((e) => `${kindLabel(e.kind)} (${e.members})`).join(", ")}</td>
                <td>
                  <span className={`verdict ${c.verdict?.verdict ?? "NONE"}`}>{verdictLabel(c.verdict?.verdict)}</span>
                </td>
                <td>{age(c.createdAt)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {rows.length === 0 && !loading && <p className="muted">No cluster matches these filters.</p>}
      {next && (
        <button type="button" onClick={more}>
          More
        </button>
      )}
    </section>
  );
}
