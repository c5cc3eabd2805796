import { lazy, Suspense, useEffect, useState, type FormEvent } from "react";
import { ApiError, gql } from "./api/client";
import { clearToken, getToken, setToken } from "./api/session";
import type { ViewerData } from "./api/types";
import { ErrorBox, Link } from "./components/Link";
import { can } from "./lib/roles";
import { parseRoute } from "./lib/route";
import { AccountView } from "./screens/AccountView";
import { ClusterView } from "./screens/ClusterView";
import { FeedView } from "./screens/FeedView";
import { Triage } from "./screens/Triage";
import { SessionContext, usePathname, type Session } from "./session";

// GraphiQL is large: loaded only when the explorer is opened.
const Explorer = lazy(() => import("./screens/Explorer"));

export function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [checking, setChecking] = useState(getToken() !== null);
  const [error, setError] = useState<unknown>(null);
  const path = usePathname();

  const signOut = () => {
    clearToken();
    setSession(null);
  };

  const signIn = async (token: string) => {
    setError(null);
    try {
      const data = await gql<ViewerData>("Viewer", {}, token);
      setToken(token);
      setSession({ name: data.viewer.name, role: data.viewer.role, apiVersion: data.apiVersion, signOut });
    } catch (err) {
      clearToken();
      setError(err);
    } finally {
      setChecking(false);
    }
  };

  useEffect(() => {
    const token = getToken();
    if (token) void signIn(token);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  if (checking) return <div className="loading">Checking the session…</div>;
  if (!session) return <SignIn onSubmit={signIn} error={error} />;

  const route = parseRoute(path);
  return (
    <SessionContext.Provider value={session}>
      <header className="top">
        <span className="brand">Heracles</span>
        <nav>
          <Link to={{ screen: "triage" }}>Triage</Link>
          <Link to={{ screen: "feed" }}>Feed</Link>
          <Link to={{ screen: "explorer" }}>Explorer</Link>
        </nav>
        <span className="who" data-testid="who">
          {session.name} · {session.role}
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </span>
      </header>
      <main>
        {route.screen === "triage" && <Triage />}
        {route.screen === "cluster" && <ClusterView key={route.id} id={route.id} />}
        {route.screen === "account" &&
          (can(session.role, "investigate") ? (
            <AccountView key={route.id} id={route.id} />
          ) : (
            <ErrorBox error={new ApiError("accounts are for analysts: this token's role is " + session.role)} />
          ))}
        {route.screen === "feed" && <FeedView />}
        {route.screen === "explorer" && (
          <Suspense fallback={<div className="loading">Loading the explorer…</div>}>
            <Explorer />
          </Suspense>
        )}
        {route.screen === "missing" && <ErrorBox error={`nothing at ${route.path}`} />}
      </main>
    </SessionContext.Provider>
  );
}

function SignIn({ onSubmit, error }: { onSubmit: (token: string) => Promise<void>; error: unknown }) {
  const [token, setTokenText] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    performance.mark("signin:submit");
    setBusy(true);
    await onSubmit(token.trim());
    setBusy(false);
  };
  return (
    <form className="signin" onSubmit={submit}>
      <h1>Heracles</h1>
      <p>Sign in with an API token (`heracles token create --role analyst`).</p>
      <label>
        Token
        <input
          name="token"
          type="password"
          autoComplete="off"
          value={token}
          onChange={(e) => setTokenText(e.target.value)}
          autoFocus
        />
      </label>
      <button type="submit" disabled={busy || token.trim() === ""}>
        Sign in
      </button>
      <ErrorBox error={error} />
    </form>
  );
}
