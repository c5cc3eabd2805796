import type { IdentifierKind } from "../api/types";
import { kindLabel } from "../lib/format";
import { KIND_COLOURS } from "../lib/network";

/** An identifier's kind (with the colour the network drawing gives it) and value, as two cells. */
export function IdentifierCells({ kind, value }: { kind: IdentifierKind; value: string }) {
  return (
    <>
      <td>
        <Swatch kind={kind} />
        {kindLabel(kind)}
      </td>
      <td className="mono">{value}</td>
    </>
  );
}

export function Swatch({ kind }: { kind: string }) {
  return <span className="swatch" style={{ background: KIND_COLOURS[kind as IdentifierKind] ?? "#999" }} />;
}
