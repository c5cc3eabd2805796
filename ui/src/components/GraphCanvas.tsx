import Graph from "graphology";
import forceAtlas2 from "graphology-layout-forceatlas2";
import FA2Layout from "graphology-layout-forceatlas2/worker";
import Sigma from "sigma";
import { useEffect, useRef, useState } from "react";
import type { NetNode, Network } from "../lib/network";

// WebGL drawing (sigma) of a Network; the layout starts from the network's own positions (so
// the first frame is already meaningful) and is refined by ForceAtlas2 in a web worker, so the
// page never blocks on it. The container exposes how many nodes the renderer drew
// (data-rendered-nodes), which the browser tests read.
const LAYOUT_MS = 2500;

export function GraphCanvas({
  network,
  onNodeClick,
  height = 480,
  layout = true,
  allLabels = false,
}: {
  network: Network;
  onNodeClick?: (node: NetNode) => void;
  height?: number;
  /** Refine the positions with ForceAtlas2 (off for a path: its chain is the layout). */
  layout?: boolean;
  allLabels?: boolean;
}) {
  const container = useRef<HTMLDivElement>(null);
  const [hovered, setHovered] = useState<string | null>(null);
  const clickRef = useRef(onNodeClick);
  clickRef.current = onNodeClick;

  useEffect(() => {
    const el = container.current;
    if (!el) return;
    performance.mark("graph:build");
    const graph = new Graph({ type: "undirected", multi: false });
    const byId = new Map<string, NetNode>();
    for (const n of network.nodes) {
      byId.set(n.id, n);
      graph.mergeNode(n.id, { x: n.x, y: n.y, size: n.size, color: n.color, label: n.label });
    }
    for (const e of network.edges) {
      if (graph.hasNode(e.source) && graph.hasNode(e.target)) {
        graph.mergeEdge(e.source, e.target, { color: e.color, size: 0.6 });
      }
    }
    performance.mark("graph:sigma");
    const renderer = new Sigma(graph, el, {
      settings: {
        // Sizes in pixels whatever the layout's coordinates (a path's are small, a spiral's large).
        itemSizesReference: "screen",
        labelRenderedSizeThreshold: allLabels ? 0 : 9,
        allowInvalidContainer: true,
        hideEdgesOnMove: graph.size > 5000,
      },
    });
    performance.mark("graph:sigma-ready");
    renderer.on("afterRender", () => {
      if (!el.dataset.renderedNodes) performance.mark("graph:drawn");
      el.dataset.renderedNodes = String(renderer.getGraph().order);
    });
    renderer.on("clickNode", ({ node }) => {
      const n = byId.get(node);
      if (n) clickRef.current?.(n);
    });
    renderer.on("enterNode", ({ node }) => setHovered(byId.get(node)?.label ?? node));
    renderer.on("leaveNode", () => setHovered(null));
    let worker: FA2Layout | null = null;
    let timer: number | undefined;
    if (layout && graph.order > 2) {
      worker = new FA2Layout(graph, {
        settings: { ...forceAtlas2.inferSettings(graph), barnesHutOptimize: graph.order > 300 },
      });
      worker.start();
      timer = window.setTimeout(() => worker?.stop(), LAYOUT_MS);
    }
    renderer.refresh();
    return () => {
      window.clearTimeout(timer);
      worker?.kill();
      renderer.kill();
    };
  }, [network, layout, allLabels]);

  return (
    <div className="graph-wrap">
      <div ref={container} className="graph" data-testid="graph" style={{ height }} />
      <div className="graph-hover">{hovered ?? "\u00a0"}</div>
    </div>
  );
}
