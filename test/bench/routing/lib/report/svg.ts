/** Small dependency-free SVG line charts for the HTML report. */

export interface Series {
  readonly name: string;
  readonly points: ReadonlyArray<readonly [number, number]>;
}

export interface ChartSpec {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  /** Logarithmic y axis (latencies that explode past saturation). */
  readonly logY?: boolean;
  /** A horizontal reference line (the SLO limit). */
  readonly limit?: { readonly y: number; readonly label: string };
  readonly width?: number;
  readonly height?: number;
}

const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];

export function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** "Nice" tick values covering [lo, hi]. */
export function linearTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step)
    ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

function fmt(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1000) return `${(v / 1000).toPrecision(3).replace(/\.?0+$/, "")}k`;
  if (a >= 1) return String(Number(v.toPrecision(3)));
  return String(Number(v.toPrecision(2)));
}

export function lineChart(spec: ChartSpec): string {
  const W = spec.width ?? 560;
  const H = spec.height ?? 340;
  const m = { l: 64, r: 150, t: 32, b: 46 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const pts = spec.series.flatMap((s) =>
    s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)),
  );
  const logY = spec.logY === true;
  const ys = pts.map(([, y]) => y).filter((y) => !logY || y > 0);
  if (spec.limit) ys.push(spec.limit.y);
  const xs = pts.map(([x]) => x);
  let x0 = xs.length ? Math.min(0, ...xs) : 0;
  let x1 = xs.length ? Math.max(...xs) : 1;
  if (x1 <= x0) x1 = x0 + 1;
  let y0: number;
  let y1: number;
  if (logY) {
    y0 = ys.length ? 10 ** Math.floor(Math.log10(Math.min(...ys))) : 0.01;
    y1 = ys.length ? 10 ** Math.ceil(Math.log10(Math.max(...ys))) : 1;
    if (y1 <= y0) y1 = y0 * 10;
  } else {
    y0 = 0;
    y1 = ys.length ? Math.max(...ys) * 1.08 : 1;
    if (y1 <= y0) y1 = 1;
  }
  x0 = Math.max(0, x0);
  const sx = (x: number) => m.l + ((x - x0) / (x1 - x0)) * pw;
  const sy = (y: number) =>
    logY
      ? m.t + ph - ((Math.log10(Math.max(y, y0)) - Math.log10(y0)) / (Math.log10(y1) - Math.log10(y0))) * ph
      : m.t + ph - ((y - y0) / (y1 - y0)) * ph;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect x="0" y="0" width="${W}" height="${H}" fill="white"/>`,
    `<text x="${m.l}" y="18" font-size="13" font-weight="bold">${escapeXml(spec.title)}</text>`,
  );
  const yTicks = logY
    ? Array.from({ length: Math.round(Math.log10(y1 / y0)) + 1 }, (_, i) => y0 * 10 ** i)
    : linearTicks(y0, y1);
  for (const t of yTicks) {
    const y = sy(t);
    out.push(
      `<line x1="${m.l}" x2="${m.l + pw}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#e5e5e5"/>`,
      `<text x="${m.l - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end">${fmt(t)}</text>`,
    );
  }
  for (const t of linearTicks(x0, x1)) {
    const x = sx(t);
    out.push(
      `<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${m.t + ph}" y2="${m.t + ph + 4}" stroke="#333"/>`,
      `<text x="${x.toFixed(1)}" y="${m.t + ph + 16}" text-anchor="middle">${fmt(t)}</text>`,
    );
  }
  out.push(
    `<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`,
    `<text x="${m.l + pw / 2}" y="${H - 8}" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`,
    `<text transform="translate(14 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${escapeXml(spec.yLabel)}</text>`,
  );
  if (spec.limit) {
    const y = sy(spec.limit.y);
    out.push(
      `<line x1="${m.l}" x2="${m.l + pw}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#d00" stroke-dasharray="5 4"/>`,
      `<text x="${m.l + pw - 4}" y="${(y - 4).toFixed(1)}" text-anchor="end" fill="#d00">${escapeXml(spec.limit.label)}</text>`,
    );
  }
  spec.series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    const good = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!logY || y > 0));
    if (good.length > 0) {
      const d = good
        .map(([x, y], j) => `${j === 0 ? "M" : "L"}${sx(x).toFixed(1)} ${sy(y).toFixed(1)}`)
        .join(" ");
      out.push(`<path d="${d}" fill="none" stroke="${colour}" stroke-width="2"/>`);
      for (const [x, y] of good)
        out.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3" fill="${colour}"/>`);
    }
    const ly = m.t + 10 + i * 18;
    out.push(
      `<line x1="${m.l + pw + 12}" x2="${m.l + pw + 32}" y1="${ly}" y2="${ly}" stroke="${colour}" stroke-width="2"/>`,
      `<text x="${m.l + pw + 38}" y="${ly + 4}">${escapeXml(s.name)}</text>`,
    );
  });
  out.push("</svg>");
  return out.join("\n");
}
