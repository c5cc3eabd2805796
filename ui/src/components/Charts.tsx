import type { Contribution } from "../api/types";
import { featureLabel, fixed } from "../lib/format";

// Small SVG charts: no charting library, so the bundle stays small and nothing loads remotely.

/** Each feature's term in the risk logit, positive to the right; the bias is shown too, so
 * the bars add up to the logit the analyst can check. */
export function ContributionChart({ bias, logit, contributions }: { bias: number; logit: number; contributions: Contribution[] }) {
  const rows = [...contributions].sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution));
  const max = Math.max(1e-9, ...rows.map((r) => Math.abs(r.contribution)), Math.abs(bias));
  const w = 180;
  return (
    <div className="contrib" data-testid="contributions">
      <table>
        <tbody>
          {rows.map((r) => (
            <tr key={r.feature}>
              <td className="feature">{featureLabel(r.feature)}</td>
              <td className="value">{r.value == null ? "" : fixed(r.value, 3)}</td>
              <td>
                <svg width={2 * w} height={14} role="img" aria-label={`${r.feature} ${r.contribution}`}>
                  <line x1={w} x2={w} y1={0} y2={14} stroke="#999" />
                  <rect
                    x={r.contribution >= 0 ? w : w - (w * -r.contribution) / max}
                    y={2}
                    width={(w * Math.abs(r.contribution)) / max}
                    height={10}
                    fill={r.contribution >= 0 ? "#c0392b" : "#2e86c1"}
                  />
                </svg>
              </td>
              <td className="num">{r.contribution >= 0 ? "+" : ""}{fixed(r.contribution, 3)}</td>
            </tr>
          ))}
          <tr className="sum">
            <td>bias</td>
            <td />
            <td />
            <td className="num">{fixed(bias, 3)}</td>
          </tr>
          <tr className="sum">
            <td>logit (risk = 1/(1+e^−logit))</td>
            <td />
            <td />
            <td className="num">{fixed(logit, 3)}</td>
          </tr>
        </tbody>
      </table>
    </div>
  );
}

/** Vertical bars over equal bins, with the total and the busiest bin in the caption. */
export function Histogram({ counts, labels, height = 80, title }: { counts: number[]; labels?: string[]; height?: number; title: string }) {
  const max = Math.max(1, ...counts);
  const barW = Math.max(1, Math.min(14, Math.floor(560 / Math.max(1, counts.length))));
  return (
    <figure className="histogram">
      <svg width={Math.max(60, barW * counts.length)} height={height} role="img" aria-label={title}>
        {counts.map((c, i) => (
          <rect key={i} x={i * barW} y={height - (height * c) / max} width={Math.max(1, barW - 1)} height={(height * c) / max} fill="#5d6d7e">
            <title>{`${labels?.[i] ?? i}: ${c}`}</title>
          </rect>
        ))}
      </svg>
      <figcaption>
        {title} · total {counts.reduce((a, b) => a + b, 0).toLocaleString("en-US")} · max {max}
      </figcaption>
    </figure>
  );
}
