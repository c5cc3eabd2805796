import { useEffect, useState } from "react";
import { gql } from "../api/client";
import type { BanCandidate, BanCandidatesData } from "../api/types";
import { ErrorBox, Link } from "../components/Link";
import { countByType } from "../lib/feed";
import { useFeed } from "../lib/useFeed";
import { fixed, num, pct, verdictLabel, when } from "../lib/format";

// Ban tooling's view: the change feed as it grows, and who would be banned now.
const POLL_MS = 5000;
const SHOWN = 300;

export function FeedView() {
  const { events, head, error } = useFeed(SHOWN, POLL_MS);

  const counts = countByType(events);
  return (
    <section className="feed" data-testid="feed-view">
      <h2>
        Change feed <span className="count">head seq {head ?? "…"}</span>
      </h2>
      <p className="muted">
        The last {events.length} events, newest first; updated every {POLL_MS / 1000} s.{" "}
        {Object.entries(counts)
          .map(([t, n]) => `${t.toLowerCase()} ${n}`)
          .join(" · ")}
      </p>
      <ErrorBox error={error} />
      <div className="columns">
        <div className="scroll">
          <table className="grid" data-testid="feed">
            <thead>
              <tr>
                <th className="num">seq</th>
                <th>event</th>
                <th>cluster</th>
                <th className="num">size</th>
                <th>verdict</th>
                <th>by</th>
                <th>at</th>
              </tr>
            </thead>
            <tbody>
              {events.map((e) => (
                <tr key={e.seq}>
                  <td className="num">{e.seq}</td>
                  <td>
                    {e.type.toLowerCase()}
                    {e.related.length > 0 && <span className="muted"> ({e.related.join(", ")})</span>}
                  </td>
                  <td>
                    <Link to={{ screen: "cluster", id: e.clusterId }}>{e.clusterId}</Link>
                  </td>
                  <td className="num">
                    {e.sizeBefore ?? "–"} → {e.sizeAfter ?? "–"}
                  </td>
                  <td>{e.verdict ? verdictLabel(e.verdict) : ""}</td>
                  <td>{e.actor}</td>
                  <td>{when(e.at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <BanList />
      </div>
    </section>
  );
}

function BanList() {
  const [rows, setRows] = useState<BanCandidate[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const load = async (after: string | null) => {
    try {
      const data = await gql<BanCandidatesData>("BanCandidates", { first: 500, after });
      setRows((r) => (after ? [...r, ...data.banCandidates.edges.map((e) => e.node)] : data.banCandidates.edges.map((e) => e.node)));
      setNext(data.banCandidates.pageInfo.hasNextPage ? data.banCandidates.pageInfo.endCursor : null);
      setDone(true);
    } catch (err) {
      setError(err);
    }
  };
  useEffect(() => {
    void load(null);
  }, []);
  const byReason: Record<string, number> = {};
  for (const r of rows) byReason[r.reason] = (byReason[r.reason] ?? 0) + 1;
  const clusters = new Set(rows.map((r) => r.clusterId)).size;
  return (
    <div className="scroll">
      <h3>
        Ban candidates{" "}
        <span className="count" data-testid="ban-count">
          {done ? `${num(rows.length)}${next ? "+" : ""} accounts in ${num(clusters)} clusters` : "…"}
        </span>
      </h3>
      <p className="muted">
        {Object.entries(byReason)
          .map(([reason, n]) => `${reason.toLowerCase().replaceAll("_", " ")}: ${num(n)}`)
          .join(" · ")}
      </p>
      <ErrorBox error={error} />
      <table className="grid">
        <thead>
          <tr>
            <th>account</th>
            <th>cluster</th>
            <th className="num">confidence</th>
            <th className="num">cluster risk</th>
            <th>reason</th>
          </tr>
        </thead>
        <tbody>
          {rows.slice(0, 200).map((r) => (
            <tr key={`${r.clusterId}:${r.accountId}`}>
              <td>{r.accountId}</td>
              <td>
                <Link to={{ screen: "cluster", id: r.clusterId }}>{r.clusterId}</Link>
              </td>
              <td className="num">{fixed(r.confidence, 2)}</td>
              <td className="num">{pct(r.clusterRisk)}</td>
              <td>{r.reason.toLowerCase().replaceAll("_", " ")}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {next && (
        <button type="button" onClick={() => load(next)}>
          Load more
        </button>
      )}
    </div>
  );
}
