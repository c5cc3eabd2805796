import { useEffect, useRef, useState } from "react";
import { gql } from "../api/client";
import type { ClusterEvent, FeedData } from "../api/types";
import { mergeFeed } from "./feed";

/** Follows the change feed: the last `window` events first, then one small read every
 * `pollMs` for what came after the last seq seen (nothing new: an empty page). `onNew` hears of
 * each later batch (not of the first window). */
export function useFeed(
  window: number,
  pollMs: number,
  onNew?: (events: ClusterEvent[]) => void,
): { events: ClusterEvent[]; head: number | null; error: unknown } {
  const [events, setEvents] = useState<ClusterEvent[]>([]);
  const [head, setHead] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const after = useRef<number | null>(null);
  const notify = useRef(onNew);
  notify.current = onNew;

  useEffect(() => {
    let stopped = false;
    let timer: number | undefined;
    const poll = async () => {
      try {
        const starting = after.current === null;
        if (starting) {
          const probe = await gql<FeedData>("FeedEvents", { after: 0, first: 1 });
          after.current = Math.max(0, probe.feedHead - window);
        }
        const page = await gql<FeedData>("FeedEvents", { after: after.current, first: window });
        setHead(page.feedHead);
        if (page.clusterEvents.length) {
          after.current = page.clusterEvents[page.clusterEvents.length - 1].seq;
          setEvents((shown) => mergeFeed(shown, page.clusterEvents, window));
          if (!starting) notify.current?.(page.clusterEvents);
        }
        setError(null);
      } catch (err) {
        setError(err); // retried at the next tick
      }
      if (!stopped) timer = globalThis.setTimeout(poll, pollMs);
    };
    void poll();
    return () => {
      stopped = true;
      globalThis.clearTimeout(timer);
    };
  }, [window, pollMs]);

  return { events, head, error };
}
