// Result shapes of the named operations the console runs (graphql/operations/*.graphql).
export type Role = "analyst" | "bantool" | "admin";
export type Verdict = "CONFIRMED_FRAUD" | "FALSE_POSITIVE" | "NEEDS_REVIEW";
export type IdentifierKind =
  | "PAYMENT_METHOD"
  | "DEVICE"
  | "IP"
  | "SUBNET"
  | "ASN"
  | "PROXY_PROVIDER"
  | "EMAIL"
  | "EMAIL_DOMAIN"
  | "PHONE"
  | "BILLING_ADDRESS"
  | "CLIENT_FINGERPRINT"
  | "PROMPT_TEMPLATE_BAND"
  | "MODEL";

export interface PageInfo {
  hasNextPage: boolean;
  endCursor: string | null;
}
export interface Connection<T> {
  edges: { node: T }[];
  pageInfo: PageInfo;
}

export interface ViewerData {
  apiVersion: string;
  viewer: { name: string; role: Role };
  feedHead: number;
}

export interface Contribution {
  feature: string;
  value?: number | null;
  contribution: number;
}

export interface QueueCluster {
  id: string;
  networkId: string | null;
  status: string;
  risk: number;
  size: number;
  createdAt: string | null;
  refreshedAt: string | null;
  verdict: { verdict: Verdict; setBy: string | null } | null;
  explanation: { contributions: Contribution[] };
  evidence: { kind: IdentifierKind; members: number }[];
}
export interface TriageData {
  clusterCount: number;
  feedHead: number;
  clusters: Connection<QueueCluster>;
}

export type ClusterEventType =
  | "CREATED"
  | "GROWN"
  | "SHRUNK"
  | "MERGED"
  | "SPLIT"
  | "DISSOLVED"
  | "REGROWN"
  | "VERDICT_SET";
export interface ClusterEvent {
  seq: number;
  type: ClusterEventType;
  clusterId: string;
  related: string[];
  sizeBefore: number | null;
  sizeAfter: number | null;
  verdict: Verdict | null;
  actor: string | null;
  runId: string | null;
  at: string | null;
}
export interface FeedData {
  feedHead: number;
  clusterEvents: ClusterEvent[];
}

export interface Evidence {
  kind: IdentifierKind;
  value: string;
  members: number;
  degree: number;
}
export interface LineageLink {
  clusterId: string;
  kind: string;
  at: string | null;
}
export interface Note {
  id?: string;
  text: string;
  author: string;
  at: string | null;
}
export interface MemberTie {
  kind: IdentifierKind;
  value: string;
  members: number;
  holders: number;
}
export interface Member {
  accountId: string;
  confidence: number;
  why: { ties?: MemberTie[]; tieStrength: number; behaviourSimilarity: number } | null;
  account?: {
    id: string;
    signupAt: string | null;
    emailDomain: string | null;
    country: string | null;
    verdict: { verdict: Verdict } | null;
    behaviour: { exchanges: number; cotElicitations: number };
  } | null;
}
export interface ClusterDetail {
  id: string;
  status: string;
  risk: number;
  size: number;
  createdAt: string | null;
  refreshedAt: string | null;
  mergedInto: string | null;
  networkId: string | null;
  explanation: { bias: number; logit: number; contributions: Contribution[] };
  evidence: Evidence[];
  verdict: { verdict: Verdict; note?: string | null; setBy: string | null; setAt: string | null } | null;
  notes?: Note[];
  lineage: { parents: LineageLink[]; children: LineageLink[] };
  members: Connection<Member>;
}
export interface ClusterData {
  cluster: ClusterDetail | null;
}

export interface Subgraph {
  accounts: { id: string; confidence: number }[];
  identifiers: { id: string; kind: IdentifierKind; value: string }[];
  edges: { accountId: string; identifierId: string }[];
}
export interface SubgraphData {
  cluster: { id: string; subgraph: Subgraph } | null;
}

export interface TimelineData {
  cluster: {
    members: {
      edges: {
        node: {
          account: {
            signupAt: string | null;
            behaviour: { models: { model: string; hoursAfterRelease: number | null }[] };
          } | null;
        };
      }[];
    };
  } | null;
}

export interface ExportMember {
  accountId: string;
  confidence: number;
  since: string | null;
  why: { tieStrength: number; behaviourSimilarity: number } | null;
}
export interface ExportData {
  cluster: { members: Connection<ExportMember> } | null;
}

export interface AuditEntry {
  id: string;
  at: string | null;
  actor: string;
  role: string;
  action: string;
  targetKind: string;
  targetId: string;
  before: unknown;
  after: unknown;
}
export interface AuditData {
  auditLog: Connection<AuditEntry>;
}

export interface IdentifierLink {
  kind: IdentifierKind;
  value: string;
  degree: number;
  count: number | null;
  firstSeen: string | null;
  lastSeen: string | null;
}
export interface AccountDetail {
  id: string;
  signupAt: string | null;
  firstSeen: string | null;
  lastSeen: string | null;
  email: string | null;
  emailDomain: string | null;
  country: string | null;
  orgName: string | null;
  signupChannel: string | null;
  signupIp: string | null;
  signupIpKind: string | null;
  events: number;
  verdict: { verdict: Verdict; note: string | null } | null;
  billing: { charges: number; chargesDisputed: number; distinctPaymentMethods: number };
  behaviour: {
    sessions: number;
    exchanges: number;
    tokensIn: number;
    tokensOut: number;
    cotElicitations: number;
    toolCalls: number;
    capabilities: { capability: string; exchanges: number }[];
    hourHistogram: number[];
    distinctIps: number;
    models: { model: string; exchanges: number; firstUsed: string | null; hoursAfterRelease: number | null }[];
  };
  identifiers: IdentifierLink[];
  cluster: {
    clusterId: string;
    confidence: number;
    cluster: { risk: number; size: number; verdict: { verdict: Verdict } | null } | null;
  } | null;
  notes: Note[];
}
export interface AccountData {
  account: AccountDetail | null;
}
export interface LinkedData {
  account: {
    linkedAccounts: Connection<{
      accountId: string;
      sharedCount: number;
      shared: { kind: IdentifierKind; value: string; degree: number }[];
      account: { cluster: { clusterId: string } | null } | null;
    }>;
  } | null;
}
export interface PathData {
  path: {
    hops: number;
    accountIds: string[];
    steps: { fromAccount: string; via: { kind: IdentifierKind; value: string }; toAccount: string }[];
  } | null;
}

export interface BanCandidate {
  accountId: string;
  clusterId: string;
  networkId: string | null;
  confidence: number;
  clusterRisk: number;
  clusterVerdict: Verdict | null;
  accountVerdict: Verdict | null;
  reason: "CLUSTER_CONFIRMED" | "NETWORK_CONFIRMED" | "RISK_THRESHOLD";
}
export interface BanCandidatesData {
  banCandidates: Connection<BanCandidate>;
}
