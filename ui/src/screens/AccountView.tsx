import { useMemo, useState, type FormEvent } from "react";
import { gql } from "../api/client";
import type { AccountData, LinkedData, PathData, Verdict } from "../api/types";
import { Histogram } from "../components/Charts";
import { DecisionForms } from "../components/DecisionForms";
import { GraphCanvas } from "../components/GraphCanvas";
import { IdentifierCells } from "../components/Kind";
import { ErrorBox, Link } from "../components/Link";
import { fixed, kindLabel, num, pct, verdictLabel, when } from "../lib/format";
import { pathNetwork } from "../lib/network";
import { can } from "../lib/roles";
import { useQuery } from "../lib/useQuery";
import { useSession } from "../session";

export function AccountView({ id }: { id: string }) {
  const { role } = useSession();
  const account = useQuery(() => gql<AccountData>("AccountInvestigation", { id }), id);
  const a = account.data?.account;
  if (account.error && !a) return <ErrorBox error={account.error} />;
  if (!account.data) return <div className="loading">Loading account {id}…</div>;
  if (!a) return <ErrorBox error={`no account ${id}`} />;
  const b = a.behaviour;
  const capTotal = Math.max(1, b.capabilities.reduce((s, c) => s + c.exchanges, 0));
  return (
    <section className="account" data-testid="account-view">
      <h2>
        Account {a.id}{" "}
        <span className={`verdict ${a.verdict?.verdict ?? "NONE"}`}>{a.verdict ? verdictLabel(a.verdict.verdict) : "no own verdict"}</span>
      </h2>
      <dl className="facts">
        <dt>cluster</dt>
        <dd data-testid="account-cluster">
          {a.cluster ? (
            <>
              <Link to={{ screen: "cluster", id: a.cluster.clusterId }}>{a.cluster.clusterId}</Link> (confidence {fixed(a.cluster.confidence, 3)}
              {a.cluster.cluster && `, risk ${pct(a.cluster.cluster.risk)}, ${num(a.cluster.cluster.size)} members`})
            </>
          ) : (
            "none"
          )}
        </dd>
        <dt>signup</dt>
        <dd>
          {when(a.signupAt)} via {a.signupChannel ?? "?"} from {a.signupIp ?? "?"} ({a.signupIpKind ?? "?"})
        </dd>
        <dt>email</dt>
        <dd className="mono">{a.email ?? "–"}</dd>
        <dt>country · org</dt>
        <dd>
          {a.country ?? "–"} · {a.orgName ?? "–"}
        </dd>
        <dt>seen</dt>
        <dd>
          {when(a.firstSeen)} → {when(a.lastSeen)} · {num(a.events)} events
        </dd>
        <dt>billing</dt>
        <dd>
          {num(a.billing.charges)} charges, {num(a.billing.chargesDisputed)} disputed, {num(a.billing.distinctPaymentMethods)} cards
        </dd>
      </dl>
      {can(role, "decide") && (
        <DecisionForms
          verdicts={ACCOUNT_VERDICTS}
          current={a.verdict?.verdict}
          decide={(verdict, note) => gql("SetAccountVerdict", { id: a.id, verdict, note })}
          addNote={(text) => gql("AddAccountNote", { id: a.id, text })}
          onDone={account.reload}
          testId="account-actions"
        />
      )}

      <div className="columns">
        <div>
          <h3>Behaviour</h3>
          <p>
            {num(b.sessions)} sessions, {num(b.exchanges)} exchanges ({num(b.tokensIn)} tokens in, {num(b.tokensOut)} out),{" "}
            {num(b.cotElicitations)} reasoning-trace requests, {num(b.toolCalls)} tool calls, {num(b.distinctIps)} IPs
          </p>
          <table className="grid">
            <tbody>
              {b.capabilities.map((c) => (
                <tr key={c.capability}>
                  <td>{c.capability}</td>
                  <td>
                    <svg width={200} height={10}>
                      <rect width={(200 * c.exchanges) / capTotal} height={10} fill="#5d6d7e" />
                    </svg>
                  </td>
                  <td className="num">{pct(c.exchanges / capTotal)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <Histogram counts={b.hourHistogram} labels={b.hourHistogram.map((_, h) => `${h}:00 UTC`)} title="exchanges by UTC hour" />
          <table className="grid">
            <thead>
              <tr>
                <th>model</th>
                <th className="num">exchanges</th>
                <th>first used</th>
                <th className="num">hours after release</th>
              </tr>
            </thead>
            <tbody>
              {b.models.map((m) => (
                <tr key={m.model}>
                  <td>{m.model}</td>
                  <td className="num">{num(m.exchanges)}</td>
                  <td>{when(m.firstUsed)}</td>
                  <td className="num">{m.hoursAfterRelease == null ? "–" : fixed(m.hoursAfterRelease, 1)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <div>
          <h3>Identifiers</h3>
          <table className="grid" data-testid="identifiers">
            <thead>
              <tr>
                <th>kind</th>
                <th>value</th>
                <th className="num">accounts sharing it</th>
                <th className="num">uses</th>
                <th>last seen</th>
              </tr>
            </thead>
            <tbody>
              {a.identifiers.map((i) => (
                <tr key={`${i.kind}:${i.value}`}>
                  <IdentifierCells kind={i.kind} value={i.value} />
                  <td className="num">{num(i.degree)}</td>
                  <td className="num">{num(i.count)}</td>
                  <td>{when(i.lastSeen)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <Linked id={a.id} />
        </div>
      </div>
      <PathFinder from={a.id} />
      <h3>Notes</h3>
      <ul className="notes">
        {a.notes.map((n, i) => (
          <li key={i}>
            <b>{n.author}</b> <span className="muted">{when(n.at)}</span> {n.text}
          </li>
        ))}
      </ul>
    </section>
  );
}

const ACCOUNT_VERDICTS: { value: Verdict; label?: string }[] = [
  { value: "FALSE_POSITIVE", label: "false positive (leaves the ban feed)" },
  { value: "CONFIRMED_FRAUD" },
  { value: "NEEDS_REVIEW" },
];

function Linked({ id }: { id: string }) {
  const linked = useQuery(() => gql<LinkedData>("LinkedAccounts", { id, first: 20 }), id);
  const edges = linked.data?.account?.linkedAccounts.edges ?? [];
  return (
    <>
      <h3>Accounts sharing with it</h3>
      <ErrorBox error={linked.error} />
      <table className="grid">
        <tbody>
          {edges.map(({ node }) => (
            <tr key={node.accountId}>
              <td>
                <Link to={{ screen: "account", id: node.accountId }}>{node.accountId}</Link>
              </td>
              <td className="num">{node.sharedCount} shared</td>
              <td>{node.shared.slice(0, 3).map((s) => kindLabel(s.kind)).join(", ")}</td>
              <td>{node.account?.cluster ? <Link to={{ screen: "cluster", id: node.account.cluster.clusterId }}>{node.account.cluster.clusterId}</Link> : ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function PathFinder({ from }: { from: string }) {
  const [to, setTo] = useState("");
  const [result, setResult] = useState<PathData["path"] | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const find = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setResult(undefined);
    try {
      setResult((await gql<PathData>("AccountPath", { from, to: to.trim(), maxHops: 4 })).path);
    } catch (err) {
      setError(err);
    }
  };
  const network = useMemo(() => (result ? pathNetwork(result.steps) : null), [result]);
  return (
    <div className="path" data-testid="path">
      <h3>Path to another account</h3>
      <form onSubmit={find}>
        <input name="path-to" placeholder="account id" value={to} onChange={(e) => setTo(e.target.value)} />
        <button type="submit" disabled={to.trim() === ""}>
          Find path
        </button>
      </form>
      <ErrorBox error={error} />
      {result === null && <p className="muted">No chain of linking identifiers within 4 hops.</p>}
      {result && network && (
        <>
          <p data-testid="path-chain">
            {result.hops} hop{result.hops === 1 ? "" : "s"}:{" "}
            {result.steps.map((s, i) => (
              <span key={i}>
                {i === 0 && <Link to={{ screen: "account", id: s.fromAccount }}>{s.fromAccount}</Link>} —{kindLabel(s.via.kind)} {s.via.value}→{" "}
                <Link to={{ screen: "account", id: s.toAccount }}>{s.toAccount}</Link>{" "}
              </span>
            ))}
          </p>
          <GraphCanvas network={network} height={220} layout={false} allLabels />
        </>
      )}
    </div>
  );
}
