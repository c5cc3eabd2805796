import type { IdentifierKind, Subgraph } from "../api/types";

// The cluster's picture, as plain data (the canvas turns it into a graphology graph): accounts
// and the identifiers they share, coloured by kind, accounts shaded by membership confidence,
// and hubs (an identifier most of the drawn members hold: a proxy exit, a template) collapsed
// to one node with a count until clicked, so a 500-member network is not a hairball.

export const KIND_COLOURS: Record<IdentifierKind, string> = {
  PAYMENT_METHOD: "#e6194b",
  DEVICE: "#3cb44b",
  IP: "#4363d8",
  SUBNET: "#6f8fe8",
  ASN: "#9aa9d8",
  PROXY_PROVIDER: "#911eb4",
  EMAIL: "#f58231",
  EMAIL_DOMAIN: "#f5b041",
  PHONE: "#42d4f4",
  BILLING_ADDRESS: "#bfef45",
  CLIENT_FINGERPRINT: "#469990",
  PROMPT_TEMPLATE_BAND: "#f032e6",
  MODEL: "#808080",
};

export interface NetNode {
  id: string;
  kind: "ACCOUNT" | IdentifierKind;
  label: string;
  x: number;
  y: number;
  size: number;
  color: string;
  confidence?: number;
  /** Accounts in the drawing holding this identifier. */
  holders?: number;
  collapsed?: boolean;
}
export interface NetEdge {
  source: string;
  target: string;
  color: string;
}
export interface Network {
  nodes: NetNode[];
  edges: NetEdge[];
  hubs: string[];
  hiddenEdges: number;
}

/** Light (weakly tied) to dark (confidently tied) red. */
export function confidenceColour(confidence: number): string {
  const c = Math.min(1, Math.max(0, confidence));
  const mix = (a: number, b: number) => Math.round(a + (b - a) * c);
  const hex = (v: number) => v.toString(16).padStart(2, "0");
  return `#${hex(mix(0xf4, 0x8b))}${hex(mix(0xc2, 0x0a))}${hex(mix(0xc2, 0x0a))}`;
}

/** A stable pseudo-random number in [0, 1) from a string (deterministic layouts). */
export function hash01(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return ((h >>> 0) % 100003) / 100003;
}

const GOLDEN = Math.PI * (3 - Math.sqrt(5));

export function buildNetwork(
  sub: Subgraph,
  options: { hubShare?: number; hubMin?: number; expanded?: ReadonlySet<string> } = {},
): Network {
  const { hubShare = 0.3, hubMin = 25, expanded = new Set<string>() } = options;
  const holders = new Map<string, string[]>();
  for (const e of sub.edges) {
    const list = holders.get(e.identifierId) ?? [];
    list.push(e.accountId);
    holders.set(e.identifierId, list);
  }
  const hubLimit = Math.max(hubMin, Math.ceil(sub.accounts.length * hubShare));
  const hubs = sub.identifiers
    .filter((i) => (holders.get(i.id)?.length ?? 0) > hubLimit)
    .map((i) => i.id);
  const collapsed = new Set(hubs.filter((h) => !expanded.has(h)));

  // Identifiers on a spiral, most held in the middle; accounts at the centre of what they hold.
  const identifiers = [...sub.identifiers].sort(
    (a, b) => (holders.get(b.id)?.length ?? 0) - (holders.get(a.id)?.length ?? 0) || a.id.localeCompare(b.id),
  );
  const nodes: NetNode[] = [];
  const position = new Map<string, [number, number]>();
  identifiers.forEach((ident, i) => {
    const r = 10 * Math.sqrt(i + 1);
    const x = r * Math.cos(i * GOLDEN);
    const y = r * Math.sin(i * GOLDEN);
    position.set(ident.id, [x, y]);
    const n = holders.get(ident.id)?.length ?? 0;
    const isCollapsed = collapsed.has(ident.id);
    nodes.push({
      id: ident.id,
      kind: ident.kind,
      label: isCollapsed ? `${ident.kind.toLowerCase()} ${ident.value} (${n} accounts)` : `${ident.kind.toLowerCase()} ${ident.value}`,
      x,
      y,
      size: isCollapsed ? 10 + Math.min(14, Math.sqrt(n)) : 3 + Math.min(6, Math.sqrt(n)),
      color: KIND_COLOURS[ident.kind] ?? "#999",
      holders: n,
      collapsed: isCollapsed,
    });
  });
  const held = new Map<string, string[]>();
  for (const e of sub.edges) {
    const list = held.get(e.accountId) ?? [];
    list.push(e.identifierId);
    held.set(e.accountId, list);
  }
  for (const account of sub.accounts) {
    const mine = (held.get(account.id) ?? []).map((i) => position.get(i)).filter((p): p is [number, number] => !!p);
    const angle = hash01(account.id) * 2 * Math.PI;
    const spread = 4 + 6 * hash01(`${account.id}:r`);
    const cx = mine.length ? mine.reduce((s, p) => s + p[0], 0) / mine.length : 0;
    const cy = mine.length ? mine.reduce((s, p) => s + p[1], 0) / mine.length : 0;
    nodes.push({
      id: account.id,
      kind: "ACCOUNT",
      label: account.id,
      x: cx + spread * Math.cos(angle),
      y: cy + spread * Math.sin(angle),
      size: 4 + 4 * account.confidence,
      color: confidenceColour(account.confidence),
      confidence: account.confidence,
    });
  }
  const kindOf = new Map(sub.identifiers.map((i) => [i.id, i.kind]));
  const edges: NetEdge[] = [];
  let hiddenEdges = 0;
  for (const e of sub.edges) {
    if (collapsed.has(e.identifierId)) {
      hiddenEdges += 1;
      continue;
    }
    const kind = kindOf.get(e.identifierId);
    edges.push({ source: e.accountId, target: e.identifierId, color: kind ? `${KIND_COLOURS[kind]}66` : "#ccc" });
  }
  return { nodes, edges, hubs, hiddenEdges };
}

/** A path as a chain: account, shared identifier, account, ... left to right. */
export function pathNetwork(steps: { fromAccount: string; via: { kind: IdentifierKind; value: string }; toAccount: string }[]): Network {
  const nodes: NetNode[] = [];
  const edges: NetEdge[] = [];
  steps.forEach((step, i) => {
    if (i === 0) {
      nodes.push({ id: step.fromAccount, kind: "ACCOUNT", label: step.fromAccount, x: 0, y: 0, size: 8, color: confidenceColour(1) });
    }
    const via = `${step.via.kind}:${step.via.value}:${i}`;
    nodes.push({
      id: via,
      kind: step.via.kind,
      label: `${step.via.kind.toLowerCase()} ${step.via.value}`,
      x: 2 * i + 1,
      y: i % 2 ? 0.3 : -0.3,
      size: 6,
      color: KIND_COLOURS[step.via.kind],
    });
    nodes.push({ id: step.toAccount, kind: "ACCOUNT", label: step.toAccount, x: 2 * i + 2, y: 0, size: 8, color: confidenceColour(1) });
    edges.push({ source: step.fromAccount, target: via, color: "#888" });
    edges.push({ source: via, target: step.toAccount, color: "#888" });
  });
  return { nodes, edges, hubs: [], hiddenEdges: 0 };
}
