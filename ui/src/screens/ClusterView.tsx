import { useMemo, useState } from "react";
import { gql } from "../api/client";
import type {
  AuditData,
  ClusterData,
  ClusterDetail,
  ExportData,
  Member,
  SubgraphData,
  TimelineData,
  Verdict,
} from "../api/types";
import { ContributionChart, Histogram } from "../components/Charts";
import { DecisionForms } from "../components/DecisionForms";
import { GraphCanvas } from "../components/GraphCanvas";
import { IdentifierCells, Swatch } from "../components/Kind";
import { ErrorBox, Link } from "../components/Link";
import { toCsv } from "../lib/csv";
import { fixed, kindLabel, num, pct, verdictLabel, when } from "../lib/format";
import { buildNetwork, KIND_COLOURS } from "../lib/network";
import { can } from "../lib/roles";
import { modelRush, signupsPerHour } from "../lib/timeline";
import { useQuery } from "../lib/useQuery";
import { navigate, useSession } from "../session";
import { href } from "../lib/route";

const PAGE = 100;
// The most confident members drawn; the rest are counted. A 15,000-member network drawn whole
// is a hairball and a frozen tab; its top few hundred and what ties them is the picture.
const DRAW_DEFAULT = 300;
const DRAW_MAX = 500;
const VERDICTS: { value: Verdict }[] = [{ value: "CONFIRMED_FRAUD" }, { value: "NEEDS_REVIEW" }, { value: "FALSE_POSITIVE" }];

export function ClusterView({ id }: { id: string }) {
  const { role } = useSession();
  const analyst = can(role, "investigate");
  const [after, setAfter] = useState<string | null>(null);
  const [cursors, setCursors] = useState<(string | null)[]>([]);
  const cluster = useQuery(
    () => gql<ClusterData>(analyst ? "ClusterReview" : "ClusterDecision", { id, first: PAGE, after }),
    `${id}:${after}`,
  );
  // The drawing's read starts with the review's, not after it: it is the slower of the two.
  const [limit, setLimit] = useState(DRAW_DEFAULT);
  const sub = useQuery(() => gql<SubgraphData>("ClusterSubgraph", { id, limit }), `${id}:${limit}`, analyst);
  const c = cluster.data?.cluster;

  if (cluster.error && !c) return <ErrorBox error={cluster.error} />;
  if (!cluster.data) return <div className="loading">Loading cluster {id}…</div>;
  if (!c) return <ErrorBox error={`no cluster ${id}`} />;

  const page = (to: string | null, back: boolean) => {
    setCursors((cs) => (back ? cs.slice(0, -1) : [...cs, after]));
    setAfter(to);
  };

  return (
    <section className="cluster" data-testid="cluster-view">
      <h2>
        Cluster {c.id} <span className={`verdict ${c.verdict?.verdict ?? "NONE"}`} data-testid="cluster-verdict">{verdictLabel(c.verdict?.verdict)}</span>
      </h2>
      <dl className="facts">
        <dt>risk</dt>
        <dd data-testid="cluster-risk">{pct(c.risk, 1)}</dd>
        <dt>size</dt>
        <dd>{num(c.size)}</dd>
        <dt>status</dt>
        <dd>{c.status.toLowerCase()}</dd>
        <dt>network</dt>
        <dd>{c.networkId ?? "–"}</dd>
        <dt>created</dt>
        <dd>{when(c.createdAt)}</dd>
        <dt>refreshed</dt>
        <dd>{when(c.refreshedAt)}</dd>
        {c.mergedInto && (
          <>
            <dt>merged into</dt>
            <dd>
              <Link to={{ screen: "cluster", id: c.mergedInto }}>{c.mergedInto}</Link>
            </dd>
          </>
        )}
      </dl>
      {c.verdict && (
        <p className="decision">
          {verdictLabel(c.verdict.verdict)} by {c.verdict.setBy ?? "?"} at {when(c.verdict.setAt)}
          {c.verdict.note ? ` — “${c.verdict.note}”` : ""}
        </p>
      )}
      {can(role, "decide") && (
        <DecisionForms
          verdicts={VERDICTS}
          current={c.verdict?.verdict}
          decide={(verdict, note) => gql("SetClusterVerdict", { id: c.id, verdict, note })}
          addNote={(text) => gql("AddClusterNote", { id: c.id, text })}
          onDone={cluster.reload}
          testId="cluster-actions"
        />
      )}

      <div className="columns">
        <div>
          <h3>Network</h3>
          {analyst ? (
            <ClusterGraph size={c.size} limit={limit} setLimit={setLimit} sub={sub} />
          ) : (
            <p className="muted">The drawing is for analysts.</p>
          )}
        </div>
        <div>
          <h3>Why this risk</h3>
          <ContributionChart {...c.explanation} />
          <h3>Evidence</h3>
          <table className="grid">
            <thead>
              <tr>
                <th>kind</th>
                <th>value</th>
                <th className="num">members</th>
                <th className="num">all holders</th>
              </tr>
            </thead>
            <tbody>
              {c.evidence.map((e) => (
                <tr key={`${e.kind}:${e.value}`}>
                  <IdentifierCells kind={e.kind} value={e.value} />
                  <td className="num">{num(e.members)}</td>
                  <td className="num">{num(e.degree)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h3>Lineage</h3>
          <Lineage cluster={c} />
        </div>
      </div>

      {analyst && <Timelines id={c.id} ready={sub.data !== null} />}

      <h3>
        Members <span className="muted">most confident first</span>
        <button type="button" onClick={() => exportMembers(c.id)} data-testid="export">
          Export CSV
        </button>
      </h3>
      <Members members={c.members.edges.map((e) => e.node)} canDecide={can(role, "decide")} clusterId={c.id} onDone={cluster.reload} />
      <div className="pager">
        <button type="button" disabled={cursors.length === 0} onClick={() => page(cursors[cursors.length - 1] ?? null, true)}>
          Previous
        </button>
        <span className="muted">
          members {cursors.length * PAGE + 1}–{cursors.length * PAGE + c.members.edges.length} of {num(c.size)}
        </span>
        <button type="button" disabled={!c.members.pageInfo.hasNextPage} onClick={() => page(c.members.pageInfo.endCursor, false)}>
          Next
        </button>
      </div>

      {can(role, "readNotes") && (
        <>
          <h3>Notes</h3>
          <ul className="notes" data-testid="notes">
            {(c.notes ?? []).map((n, i) => (
              <li key={n.id ?? i}>
                <b>{n.author}</b> <span className="muted">{when(n.at)}</span> {n.text}
              </li>
            ))}
          </ul>
          <AuditTrail
            targetId={c.id}
            version={`${c.verdict?.setAt ?? ""}:${c.members.edges.filter((e) => e.node.account?.verdict).length}`}
            notes={c.notes?.length ?? 0}
          />
        </>
      )}
    </section>
  );
}

function ClusterGraph({
  size,
  limit,
  setLimit,
  sub,
}: {
  size: number;
  limit: number;
  setLimit: (limit: number) => void;
  sub: { data: SubgraphData | null; error: unknown };
}) {
  const [expanded, setExpanded] = useState<ReadonlySet<string>>(new Set());
  const [picked, setPicked] = useState<string | null>(null);
  const subgraph = sub.data?.cluster?.subgraph;
  const network = useMemo(() => (subgraph ? buildNetwork(subgraph, { expanded }) : null), [subgraph, expanded]);
  if (sub.error) return <ErrorBox error={sub.error} />;
  if (!network || !subgraph) return <div className="loading graph-placeholder">Loading the network…</div>;
  return (
    <div data-testid="cluster-graph">
      <p className="muted">
        {num(subgraph.accounts.length)} most confident of {num(size)} members, {num(subgraph.identifiers.length)} identifiers two or more of them share
        {network.hubs.length > 0 && ` · ${network.hubs.length} hub${network.hubs.length > 1 ? "s" : ""} collapsed (${num(network.hiddenEdges)} links; click to expand)`}
        {size > limit && limit < DRAW_MAX && (
          <button type="button" onClick={() => setLimit(Math.min(DRAW_MAX, size))}>
            draw {Math.min(DRAW_MAX, size)}
          </button>
        )}
      </p>
      <GraphCanvas
        network={network}
        onNodeClick={(node) => {
          if (node.kind === "ACCOUNT") navigate(href({ screen: "account", id: node.id }));
          else if (network.hubs.includes(node.id)) {
            setExpanded((s) => {
              const next = new Set(s);
              if (next.has(node.id)) next.delete(node.id);
              else next.add(node.id);
              return next;
            });
          } else setPicked(`${node.label} · held by ${node.holders} drawn members`);
        }}
      />
      <div className="legend">
        {Object.keys(KIND_COLOURS).map((kind) => (
          <span key={kind}>
            <Swatch kind={kind} />
            {kindLabel(kind)}
          </span>
        ))}
        <span>accounts: light = weakly tied, dark = confidently tied</span>
      </div>
      {picked && <p className="muted">{picked}</p>}
    </div>
  );
}

function Lineage({ cluster }: { cluster: ClusterDetail }) {
  const { parents, children } = cluster.lineage;
  if (parents.length === 0 && children.length === 0) return <p className="muted">Born as it is; nothing merged or split.</p>;
  return (
    <ul>
      {parents.map((p) => (
        <li key={`p${p.clusterId}`}>
          {p.kind} from <Link to={{ screen: "cluster", id: p.clusterId }}>{p.clusterId}</Link> <span className="muted">{when(p.at)}</span>
        </li>
      ))}
      {children.map((p) => (
        <li key={`c${p.clusterId}`}>
          {p.kind} into <Link to={{ screen: "cluster", id: p.clusterId }}>{p.clusterId}</Link> <span className="muted">{when(p.at)}</span>
        </li>
      ))}
    </ul>
  );
}

/** Read once the drawing's data is in: it is below the fold, and it would compete with it. */
function Timelines({ id, ready }: { id: string; ready: boolean }) {
  const timeline = useQuery(() => gql<TimelineData>("ClusterTimeline", { id, first: 500 }), id, ready);
  const accounts = (timeline.data?.cluster?.members.edges ?? []).map((e) => e.node.account).filter((a) => !!a);
  const signups = useMemo(() => signupsPerHour(accounts.map((a) => a!.signupAt)), [timeline.data]);
  const rush = useMemo(() => modelRush(accounts.map((a) => a!.behaviour.models)), [timeline.data]);
  if (timeline.error) return <ErrorBox error={timeline.error} />;
  if (!timeline.data) return null;
  return (
    <div className="columns">
      <div>
        <h3>Signups ({signups.binHours === 1 ? "per hour" : `per ${signups.binHours} h`}, top {accounts.length} members)</h3>
        <Histogram counts={signups.counts} title={signups.counts.length ? `from ${new Date(signups.start).toISOString().slice(0, 13)}h UTC` : "no signups recorded"} />
      </div>
      <div>
        <h3>First use of each model after its release</h3>
        <table className="grid">
          <thead>
            <tr>
              <th>model</th>
              <th className="num">members using it</th>
              <th className="num">within 24 h of release</th>
              <th className="num">median hours</th>
            </tr>
          </thead>
          <tbody>
            {rush.map((m) => (
              <tr key={m.model}>
                <td>{m.model}</td>
                <td className="num">{num(m.accounts)}</td>
                <td className="num">{num(m.within24h)}</td>
                <td className="num">{m.medianHours == null ? "–" : fixed(m.medianHours, 1)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

function Members({ members, canDecide, clusterId, onDone }: { members: Member[]; canDecide: boolean; clusterId: string; onDone: () => void }) {
  const [error, setError] = useState<unknown>(null);
  const exclude = async (accountId: string) => {
    setError(null);
    try {
      await gql("SetAccountVerdict", { id: accountId, verdict: "FALSE_POSITIVE", note: `excluded from cluster ${clusterId}` });
      onDone();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <>
      <ErrorBox error={error} />
      <table className="grid" data-testid="members">
        <thead>
          <tr>
            <th>account</th>
            <th className="num">confidence</th>
            <th className="num">tie strength</th>
            <th className="num">behaviour similarity</th>
            <th>strongest ties</th>
            {members[0]?.account !== undefined && (
              <>
                <th>signup</th>
                <th>email domain</th>
                <th className="num">exchanges</th>
                <th>account verdict</th>
              </>
            )}
            {canDecide && <th />}
          </tr>
        </thead>
        <tbody>
          {members.map((m) => (
            <tr key={m.accountId}>
              <td>{m.account !== undefined ? <Link to={{ screen: "account", id: m.accountId }}>{m.accountId}</Link> : m.accountId}</td>
              <td className="num">{fixed(m.confidence, 3)}</td>
              <td className="num">{fixed(m.why?.tieStrength, 2)}</td>
              <td className="num">{fixed(m.why?.behaviourSimilarity, 2)}</td>
              <td>{(m.why?.ties ?? []).slice(0, 2).map((t) => `${kindLabel(t.kind)} (${t.members}/${t.holders})`).join(", ")}</td>
              {m.account !== undefined && (
                <>
                  <td>{when(m.account?.signupAt)}</td>
                  <td>{m.account?.emailDomain ?? "–"}</td>
                  <td className="num">{num(m.account?.behaviour.exchanges)}</td>
                  <td>{m.account?.verdict && <span className={`verdict ${m.account.verdict.verdict}`}>{verdictLabel(m.account.verdict.verdict)}</span>}</td>
                </>
              )}
              {canDecide && (
                <td>
                  {m.account?.verdict?.verdict !== "FALSE_POSITIVE" && (
                    <button type="button" className="small" onClick={() => exclude(m.accountId)} title="Mark FALSE_POSITIVE: leaves the ban feed">
                      exclude
                    </button>
                  )}
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

/** The cluster's own entries and its members' (an exclusion is audited on the account). */
function AuditTrail({ targetId, version, notes }: { targetId: string; version: string; notes: number }) {
  const audit = useQuery(() => gql<AuditData>("AuditLog", { targetId, includeMembers: true, first: 50 }), `${targetId}:${version}:${notes}`);
  return (
    <>
      <h3>Audit trail</h3>
      <ErrorBox error={audit.error} />
      <table className="grid" data-testid="audit">
        <thead>
          <tr>
            <th>when</th>
            <th>who</th>
            <th>action</th>
            <th>on</th>
            <th>after</th>
          </tr>
        </thead>
        <tbody>
          {(audit.data?.auditLog.edges ?? []).map(({ node }) => (
            <tr key={node.id}>
              <td>{when(node.at)}</td>
              <td>
                {node.actor} <span className="muted">{node.role}</span>
              </td>
              <td>{node.action}</td>
              <td>{node.targetKind === "account" ? <Link to={{ screen: "account", id: node.targetId }}>{node.targetId}</Link> : node.targetKind}</td>
              <td className="mono">{JSON.stringify(node.after)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

async function exportMembers(id: string): Promise<void> {
  const rows: unknown[][] = [];
  let after: string | null = null;
  for (;;) {
    const data: ExportData = await gql<ExportData>("ClusterMembersExport", { id, first: 500, after });
    const members = data.cluster?.members;
    if (!members) break;
    for (const { node } of members.edges) {
      rows.push([id, node.accountId, node.confidence, node.why?.tieStrength ?? null, node.why?.behaviourSimilarity ?? null, node.since]);
    }
    if (!members.pageInfo.hasNextPage) break;
    after = members.pageInfo.endCursor;
  }
  const csv = toCsv(["cluster_id", "account_id", "confidence", "tie_strength", "behaviour_similarity", "member_since"], rows);
  const url = URL.createObjectURL(new Blob([csv], { type: "text/csv" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = `cluster-${id}-members.csv`;
  a.click();
  URL.revokeObjectURL(url);
}
