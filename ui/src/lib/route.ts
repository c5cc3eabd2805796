// Paths under /ui, parsed without a router library: five screens do not need one.
export type Route =
  | { screen: "triage" }
  | { screen: "cluster"; id: string }
  | { screen: "account"; id: string }
  | { screen: "feed" }
  | { screen: "explorer" }
  | { screen: "missing"; path: string };

export const BASE = "/ui";

export function parseRoute(pathname: string): Route {
  const rest = pathname.startsWith(BASE) ? pathname.slice(BASE.length) : pathname;
  const parts = rest.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { screen: "triage" };
  if (parts[0] === "cluster" && parts.length === 2) return { screen: "cluster", id: parts[1] };
  if (parts[0] === "account" && parts.length === 2) return { screen: "account", id: parts[1] };
  if (parts[0] === "feed" && parts.length === 1) return { screen: "feed" };
  if (parts[0] === "explorer" && parts.length === 1) return { screen: "explorer" };
  return { screen: "missing", path: pathname };
}

export function href(route: Route): string {
  switch (route.screen) {
    case "triage":
      return `${BASE}/`;
    case "cluster":
      return `${BASE}/cluster/${encodeURIComponent(route.id)}`;
    case "account":
      return `${BASE}/account/${encodeURIComponent(route.id)}`;
    case "feed":
      return `${BASE}/feed`;
    case "explorer":
      return `${BASE}/explorer`;
    case "missing":
      return route.path;
  }
}
