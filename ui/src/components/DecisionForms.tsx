import { useState, type FormEvent } from "react";
import type { Verdict } from "../api/types";
import { verdictLabel } from "../lib/format";
import { ErrorBox } from "./Link";

/** A verdict with its reason, and a note: the two audited actions on a cluster or an account.
 * The first verdict listed is the default when nothing was decided yet. */
export function DecisionForms({
  verdicts,
  current,
  decide,
  addNote,
  onDone,
  testId,
}: {
  verdicts: { value: Verdict; label?: string }[];
  current: Verdict | undefined;
  decide: (verdict: Verdict, note: string | null) => Promise<unknown>;
  addNote: (text: string) => Promise<unknown>;
  onDone: () => void;
  testId?: string;
}) {
  const [verdict, setVerdict] = useState<Verdict>(current ?? verdicts[0].value);
  const [note, setNote] = useState("");
  const [text, setText] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const run = (action: () => Promise<unknown>) => async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await action();
      onDone();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="actions" data-testid={testId}>
      <form onSubmit={run(async () => { await decide(verdict, note.trim() || null); setNote(""); })}>
        <select name="verdict" value={verdict} onChange={(e) => setVerdict(e.target.value as Verdict)}>
          {verdicts.map((v) => (
            <option key={v.value} value={v.value}>
              {v.label ?? verdictLabel(v.value)}
            </option>
          ))}
        </select>
        <input name="verdict-note" placeholder="why (kept in the audit trail)" value={note} onChange={(e) => setNote(e.target.value)} />
        <button type="submit" disabled={busy}>
          Set verdict
        </button>
      </form>
      <form onSubmit={run(async () => { await addNote(text.trim()); setText(""); })}>
        <input name="note" placeholder="add a note" value={text} onChange={(e) => setText(e.target.value)} />
        <button type="submit" disabled={busy || text.trim() === ""}>
          Add note
        </button>
      </form>
      <ErrorBox error={error} />
    </div>
  );
}
