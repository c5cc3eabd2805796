// The named operations in graphql/operations/, bundled as text: the console sends the same
// documents as `heracles gql` and the tests, so the SDL and operation checks cover it.
const files = import.meta.glob("../../../graphql/operations/*.graphql", {
  query: "?raw",
  import: "default",
  eager: true,
}) as Record<string, string>;

/** Operation name -> the whole file defining it (the server picks one by `operationName`). */
export function indexOperations(texts: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const text of texts) {
    for (const match of text.matchAll(/^\s*(?:query|mutation)\s+([A-Za-z_]\w*)/gm)) {
      if (out.has(match[1])) throw new Error(`operation ${match[1]} is defined twice`);
      out.set(match[1], text);
    }
  }
  return out;
}

export const OPERATIONS = indexOperations(Object.values(files));

export type OperationName =
  | "Viewer"
  | "TriageQueue"
  | "FeedEvents"
  | "ClusterReview"
  | "ClusterDecision"
  | "ClusterSubgraph"
  | "ClusterTimeline"
  | "ClusterMembersExport"
  | "SetClusterVerdict"
  | "AddClusterNote"
  | "AuditLog"
  | "AccountInvestigation"
  | "LinkedAccounts"
  | "AccountPath"
  | "SetAccountVerdict"
  | "AddAccountNote"
  | "BanCandidates";
