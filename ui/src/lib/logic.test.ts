import { describe, expect, it } from "vitest";
import { indexOperations, OPERATIONS } from "../api/operations";
import { explainErrors } from "../api/client";
import type { ClusterEvent } from "../api/types";
import { csvCell, toCsv } from "./csv";
import { growthSinceLastRefresh, mergeFeed } from "./feed";
import { age, topTerms } from "./format";
import { buildNetwork, confidenceColour, pathNetwork } from "./network";
import { can } from "./roles";
import { href, parseRoute } from "./route";
import { modelRush, signupsPerHour } from "./timeline";

const event = (seq: number, patch: Partial<ClusterEvent>): ClusterEvent => ({
  seq,
  type: "GROWN",
  clusterId: "c1",
  related: [],
  sizeBefore: null,
  sizeAfter: null,
  verdict: null,
  actor: "detection",
  runId: "r1",
  at: null,
  ...patch,
});

describe("operations", () => {
  it("bundles every operation the console runs from graphql/operations", () => {
    for (const name of ["Viewer", "TriageQueue", "FeedEvents", "ClusterReview", "ClusterDecision", "ClusterSubgraph", "AccountPath", "BanCandidates"]) {
      expect(OPERATIONS.get(name), name).toContain(name);
    }
  });
  it("refuses a name defined twice", () => {
    expect(() => indexOperations(["query A { x }", "query A { y }"])).toThrow(/twice/);
  });
});

describe("errors", () => {
  it("keeps the API's code and message", () => {
    const err = explainErrors([{ message: "not allowed", extensions: { code: "FORBIDDEN" } }]);
    expect(err.message).toBe("FORBIDDEN: not allowed");
    expect(err.codes).toEqual(["FORBIDDEN"]);
  });
});

describe("roles", () => {
  it("gives ban tooling no verdicts, notes or accounts", () => {
    expect(can("bantool", "decide")).toBe(false);
    expect(can("bantool", "readNotes")).toBe(false);
    expect(can("bantool", "investigate")).toBe(false);
    expect(can("analyst", "decide")).toBe(true);
    expect(can("admin", "admin")).toBe(true);
    expect(can(undefined, "decide")).toBe(false);
  });
});

describe("routes", () => {
  it("round-trips every screen, ids escaped", () => {
    for (const route of [
      { screen: "triage" as const },
      { screen: "cluster" as const, id: "c/1 ?" },
      { screen: "account" as const, id: "acc_1" },
      { screen: "feed" as const },
      { screen: "explorer" as const },
    ]) {
      expect(parseRoute(href(route))).toEqual(route);
    }
    expect(parseRoute("/ui")).toEqual({ screen: "triage" });
    expect(parseRoute("/ui/nope/1/2").screen).toBe("missing");
  });
});

describe("feed", () => {
  it("measures growth in the newest detection run only", () => {
    const { runId, growth } = growthSinceLastRefresh([
      event(1, { runId: "r0", sizeBefore: 1, sizeAfter: 50 }),
      event(2, { runId: "r1", sizeBefore: 10, sizeAfter: 14 }),
      event(3, { runId: "r1", type: "CREATED", clusterId: "c2", sizeAfter: 9 }),
      event(4, { runId: "r1", type: "SHRUNK", clusterId: "c3", sizeBefore: 9, sizeAfter: 7 }),
      event(5, { runId: null, type: "VERDICT_SET", clusterId: "c9", actor: "ana" }),
    ]);
    expect(runId).toBe("r1");
    expect(growth.get("c1")).toBe(4);
    expect(growth.get("c2")).toBe("new");
    expect(growth.get("c3")).toBe(-2);
    expect(growth.has("c9")).toBe(false);
  });
  it("merges overlapping polls without repeats, newest first, capped", () => {
    const shown = mergeFeed([], [event(1, {}), event(2, {})]);
    const merged = mergeFeed(shown, [event(2, {}), event(3, {})], 2);
    expect(merged.map((e) => e.seq)).toEqual([3, 2]);
  });
});

describe("csv", () => {
  it("quotes separators and defuses formulas", () => {
    expect(csvCell('a,"b"')).toBe('"a,""b"""');
    expect(csvCell("=HYPERLINK(1)")).toBe("'=HYPERLINK(1)");
    expect(csvCell(-0.5)).toBe("-0.5");
    expect(csvCell(null)).toBe("");
    expect(toCsv(["a", "b"], [[1, "x\ny"]])).toBe('a,b\r\n1,"x\ny"\r\n');
  });
});

describe("network", () => {
  const sub = {
    accounts: Array.from({ length: 40 }, (_, i) => ({ id: `a${i}`, confidence: i / 40 })),
    identifiers: [
      { id: "IP:1", kind: "IP" as const, value: "1" },
      { id: "DEVICE:d", kind: "DEVICE" as const, value: "d" },
    ],
    edges: [
      ...Array.from({ length: 40 }, (_, i) => ({ accountId: `a${i}`, identifierId: "IP:1" })),
      { accountId: "a0", identifierId: "DEVICE:d" },
      { accountId: "a1", identifierId: "DEVICE:d" },
    ],
  };
  it("collapses a hub until it is expanded", () => {
    const net = buildNetwork(sub, { hubMin: 10 });
    expect(net.hubs).toEqual(["IP:1"]);
    expect(net.hiddenEdges).toBe(40);
    expect(net.edges).toHaveLength(2);
    expect(net.nodes.find((n) => n.id === "IP:1")?.label).toContain("40 accounts");
    const open = buildNetwork(sub, { hubMin: 10, expanded: new Set(["IP:1"]) });
    expect(open.edges).toHaveLength(42);
    expect(open.hiddenEdges).toBe(0);
  });
  it("places every node at a finite, deterministic position", () => {
    const a = buildNetwork(sub);
    const b = buildNetwork(sub);
    expect(a.nodes).toHaveLength(42);
    expect(a.nodes.every((n) => Number.isFinite(n.x) && Number.isFinite(n.y))).toBe(true);
    expect(a.nodes.map((n) => [n.x, n.y])).toEqual(b.nodes.map((n) => [n.x, n.y]));
  });
  it("shades by confidence and draws a path as a chain", () => {
    expect(confidenceColour(0)).not.toBe(confidenceColour(1));
    const chain = pathNetwork([
      { fromAccount: "a", via: { kind: "DEVICE", value: "d" }, toAccount: "b" },
      { fromAccount: "b", via: { kind: "IP", value: "1" }, toAccount: "c" },
    ]);
    expect(chain.nodes.map((n) => n.id)).toEqual(["a", "DEVICE:d:0", "b", "IP:1:1", "c"]);
    expect(chain.edges).toHaveLength(4);
  });
});

describe("timelines and format", () => {
  it("bins signups per hour with the empty hours kept", () => {
    const t = signupsPerHour(["2026-02-01T00:10:00Z", "2026-02-01T00:50:00Z", "2026-02-01T03:00:00Z", null]);
    expect(t.counts).toEqual([2, 0, 0, 1]);
    expect(t.binHours).toBe(1);
    expect(signupsPerHour([]).counts).toEqual([]);
    expect(signupsPerHour(["2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z"], 100).counts.length).toBeLessThanOrEqual(100);
  });
  it("counts the rush to a new model", () => {
    const rush = modelRush([
      [{ model: "m2", hoursAfterRelease: 3 }, { model: "m1", hoursAfterRelease: null }],
      [{ model: "m2", hoursAfterRelease: 30 }],
      [{ model: "m2", hoursAfterRelease: 10 }],
    ]);
    expect(rush[0]).toEqual({ model: "m2", accounts: 3, within24h: 2, medianHours: 10 });
    expect(rush[1].medianHours).toBeNull();
  });
  it("says ages coarsely and picks the terms that push risk up", () => {
    const now = Date.parse("2026-02-02T00:00:00Z");
    expect(age("2026-02-01T23:59:30Z", now)).toBe("30 s");
    expect(age("2026-01-30T00:00:00Z", now)).toBe("3 d");
    expect(topTerms([{ feature: "a", contribution: -1 }, { feature: "b", contribution: 2 }, { feature: "c", contribution: 1 }]).map((t) => t.feature)).toEqual(["b", "c"]);
  });
});
