import type { MouseEvent, ReactNode } from "react";
import { href, type Route } from "../lib/route";
import { navigate } from "../session";

export function Link({ to, children, className }: { to: Route; children: ReactNode; className?: string }) {
  const target = href(to);
  const onClick = (e: MouseEvent) => {
    if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
    e.preventDefault();
    navigate(target);
  };
  return (
    <a href={target} onClick={onClick} className={className}>
      {children}
    </a>
  );
}

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <div className="error" role="alert">
      {error instanceof Error ? error.message : String(error)}
    </div>
  );
}
