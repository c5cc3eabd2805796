import "graphiql/style.css";
import { GraphiQL } from "graphiql";
import { getToken } from "../api/session";

// GraphiQL from npm, bundled (the CDN page strawberry serves cannot load air-gapped); it sends
// the signed-in token, so the explorer sees exactly what the role may see.
async function fetcher(params: unknown): Promise<unknown> {
  const token = getToken();
  const response = await fetch("/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(params),
  });
  return response.json();
}

const START = `# The Heracles API, as this token's role sees it (docs/api.md).
# The named operations the console and ban tooling run are in graphql/operations/.
query Viewer {
  viewer {
    name
    role
  }
  apiVersion
  feedHead
}
`;

export default function Explorer() {
  return (
    <div className="explorer" data-testid="explorer">
      <GraphiQL fetcher={fetcher} defaultQuery={START} />
    </div>
  );
}
