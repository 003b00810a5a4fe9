// Hand-written SVG charts: an allocation donut (target and current as concentric rings), a
// price sparkline and a projection chart with percentile bands. Colours come from CSS classes
// (style.css), so the charts follow the page's palette; every chart has a text alternative.

import { s, h, uid, pct, moneyShort, money, ASSET_CLASSES, className } from './dom.js';

const TAU = Math.PI * 2;

function polar(cx, cy, r, angle) {
  // 0 rad at 12 o'clock, clockwise.
  return [cx + r * Math.sin(angle), cy - r * Math.cos(angle)];
}

function fmt(n) {
  return Number(n.toFixed(3));
}

/** The path of a ring segment from angle a0 to a1 (radians, a1 > a0, less than a full turn). */
function ringSegment(cx, cy, rOuter, rInner, a0, a1) {
  const large = a1 - a0 > Math.PI ? 1 : 0;
  const [x0, y0] = polar(cx, cy, rOuter, a0);
  const [x1, y1] = polar(cx, cy, rOuter, a1);
  const [x2, y2] = polar(cx, cy, rInner, a1);
  const [x3, y3] = polar(cx, cy, rInner, a0);
  return [
    `M${fmt(x0)} ${fmt(y0)}`,
    `A${rOuter} ${rOuter} 0 ${large} 1 ${fmt(x1)} ${fmt(y1)}`,
    `L${fmt(x2)} ${fmt(y2)}`,
    `A${rInner} ${rInner} 0 ${large} 0 ${fmt(x3)} ${fmt(y3)}`,
    'Z',
  ].join(' ');
}

function shares(allocation) {
  const raw = ASSET_CLASSES.map((c) => {
    const v = Number(allocation?.[c.key]);
    return Number.isFinite(v) && v > 0 ? v : 0;
  });
  const total = raw.reduce((a, b) => a + b, 0);
  return ASSET_CLASSES.map((c, i) => ({ ...c, value: raw[i], share: total > 0 ? raw[i] / total : 0 }));
}

function ring(g, allocation, rOuter, rInner, ringName) {
  const cx = 100;
  const cy = 100;
  let angle = 0;
  const parts = shares(allocation);
  if (!parts.some((p) => p.share > 0)) {
    g.append(s('circle', { cx, cy, r: (rOuter + rInner) / 2, class: 'ring-empty', 'stroke-width': rOuter - rInner, fill: 'none' }));
    return;
  }
  for (const part of parts) {
    if (part.share <= 0) continue;
    const sweep = part.share * TAU;
    const title = s('title', {}, `${ringName} · ${className(part.name)}: ${pct(part.value)}`);
    const common = {
      class: ['seg', `c-${part.css}`],
      'data-ring': ringName.toLowerCase(),
      'data-class': part.key,
      'data-value': part.value,
    };
    if (sweep >= TAU - 1e-6) {
      // A full ring cannot be one arc: draw it as two halves in one path.
      const d = `${ringSegment(cx, cy, rOuter, rInner, 0, Math.PI)} ${ringSegment(cx, cy, rOuter, rInner, Math.PI, TAU - 1e-9)}`;
      g.append(s('path', { ...common, d }, title));
    } else {
      g.append(s('path', { ...common, d: ringSegment(cx, cy, rOuter, rInner, angle, angle + sweep) }, title));
    }
    angle += sweep;
  }
}

/**
 * The allocation donut: the outer ring is the target, the inner ring the current holdings
 * (omitted, with a note in the middle, when `current` is null).
 */
export function donut(target, current, { testid = 'donut' } = {}) {
  const titleId = uid('donut-title');
  const descId = uid('donut-desc');
  const describe = (label, alloc) =>
    alloc ? `${label}: ${ASSET_CLASSES.map((c) => `${className(c.name)} ${pct(alloc[c.key])}`).join(', ')}.` : `${label}: not given.`;
  const svg = s(
    'svg',
    {
      class: 'chart donut',
      viewBox: '0 0 200 200',
      role: 'img',
      'aria-labelledby': `${titleId} ${descId}`,
      'data-testid': testid,
      'data-has-current': current ? 'true' : 'false',
    },
    s('title', { id: titleId }, 'Asset allocation: target (outer ring) and current (inner ring)'),
    s('desc', { id: descId }, `${describe('Target', target)} ${describe('Current', current)}`),
  );
  const outer = s('g', { class: 'ring ring-target' });
  ring(outer, target, 96, 72, 'Target');
  svg.append(outer);
  if (current) {
    const inner = s('g', { class: 'ring ring-current' });
    ring(inner, current, 66, 44, 'Current');
    svg.append(inner);
    svg.append(s('text', { x: 100, y: 97, class: 'donut-center', 'text-anchor': 'middle' }, 'outer: target'));
    svg.append(s('text', { x: 100, y: 112, class: 'donut-center', 'text-anchor': 'middle' }, 'inner: now'));
  } else {
    svg.append(s('text', { x: 100, y: 98, class: 'donut-center', 'text-anchor': 'middle' }, 'target'));
    svg.append(s('text', { x: 100, y: 113, class: 'donut-center muted', 'text-anchor': 'middle' }, 'no holdings given'));
  }
  return svg;
}

/** The legend beside the donut: one row per class with target and current. */
export function donutLegend(target, current) {
  return h(
    'table',
    { class: 'legend', 'data-testid': 'donut-legend' },
    h('caption', { class: 'sr-only' }, 'Allocation by asset class'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Class'), h('th', { scope: 'col', class: 'num' }, 'Now'), h('th', { scope: 'col', class: 'num' }, 'Target'))),
    h(
      'tbody',
      {},
      ASSET_CLASSES.map((c) =>
        h(
          'tr',
          { 'data-class': c.key },
          h('th', { scope: 'row' }, h('span', { class: ['swatch', `c-${c.css}`], 'aria-hidden': 'true' }), className(c.name)),
          h('td', { class: 'num', 'data-value': current ? current[c.key] : '' }, current ? pct(current[c.key]) : '—'),
          h('td', { class: 'num', 'data-value': target?.[c.key] }, pct(target?.[c.key])),
        ),
      ),
    ),
  );
}

/**
 * A price sparkline, or a short "no prices" label when there is no series to draw (never
 * invented data). Needs at least two finite prices.
 */
export function sparkline(prices, { label = 'Price', width = 120, height = 32 } = {}) {
  const values = Array.isArray(prices) ? prices.map(Number).filter(Number.isFinite) : [];
  if (values.length < 2) {
    return h('span', { class: 'no-prices', 'data-testid': 'sparkline-empty' }, 'no prices');
  }
  const min = Math.min(...values);
  const max = Math.max(...values);
  const span = max - min || 1;
  const pad = 3;
  const x = (i) => pad + (i * (width - 2 * pad)) / (values.length - 1);
  const y = (v) => height - pad - ((v - min) / span) * (height - 2 * pad);
  const points = values.map((v, i) => `${fmt(x(i))},${fmt(y(v))}`).join(' ');
  const first = values[0];
  const last = values[values.length - 1];
  const change = first !== 0 ? (last - first) / Math.abs(first) : 0;
  const trend = last > first ? 'up' : last < first ? 'down' : 'flat';
  const text = `${label}: ${values.length} prices from ${first} to ${last} (${change >= 0 ? '+' : ''}${(change * 100).toFixed(1)}%)`;
  return s(
    'svg',
    {
      class: ['chart', 'sparkline', `trend-${trend}`],
      viewBox: `0 0 ${width} ${height}`,
      width,
      height,
      role: 'img',
      'aria-label': text,
      'data-testid': 'sparkline',
      'data-points': values.length,
    },
    s('title', {}, text),
    s('polyline', { points, fill: 'none', class: 'spark-line' }),
    s('circle', { cx: fmt(x(values.length - 1)), cy: fmt(y(last)), r: 2.5, class: 'spark-dot' }),
  );
}

/** Round-number ticks covering [0, max]. */
function ticks(max, count = 5) {
  if (!(max > 0)) return [0];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((st) => st >= raw) || raw;
  const out = [];
  for (let v = 0; v <= max + step * 0.001; v += step) out.push(v);
  if (out[out.length - 1] < max) out.push(out[out.length - 1] + step);
  return out;
}

/**
 * Wealth projection: p10–p90 band, p25–p75 band and the median line, one point per year
 * (`years[]` of `{year, p10, p25, p50, p75, p90}`). `startAge` labels the x axis with ages.
 */
export function projectionChart(years, { startAge = null, testid = 'projection-chart' } = {}) {
  const data = (Array.isArray(years) ? years : []).filter((y) => y && Number.isFinite(y.p50));
  const W = 640;
  const H = 280;
  const m = { top: 16, right: 16, bottom: 40, left: 64 };
  const titleId = uid('proj-title');
  const descId = uid('proj-desc');
  const svg = s('svg', {
    class: 'chart projection',
    viewBox: `0 0 ${W} ${H}`,
    role: 'img',
    'aria-labelledby': `${titleId} ${descId}`,
    'data-testid': testid,
    'data-years': data.length,
    preserveAspectRatio: 'xMidYMid meet',
  });
  svg.append(s('title', { id: titleId }, 'Projected wealth by year, in today’s money'));
  if (!data.length) {
    svg.append(s('desc', { id: descId }, 'No projection.'));
    svg.append(s('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'axis-label' }, 'No projection'));
    return svg;
  }
  const last = data[data.length - 1];
  svg.append(
    s('desc', { id: descId }, `After ${last.year} years: median ${money(last.p50)}; 1 in 10 chance below ${money(last.p10)}, 1 in 10 above ${money(last.p90)}.`),
  );
  const x0 = data[0].year;
  const x1 = data.length > 1 ? last.year : x0 + 1;
  const yMax = Math.max(...data.map((d) => Math.max(d.p90, d.p75, d.p50)));
  const yTicks = ticks(yMax);
  const top = yTicks[yTicks.length - 1] || 1;
  const px = (year) => m.left + ((year - x0) / (x1 - x0 || 1)) * (W - m.left - m.right);
  const py = (v) => H - m.bottom - (Math.max(0, v) / top) * (H - m.top - m.bottom);

  const grid = s('g', { class: 'grid' });
  for (const t of yTicks) {
    grid.append(s('line', { x1: m.left, x2: W - m.right, y1: fmt(py(t)), y2: fmt(py(t)) }));
    grid.append(s('text', { x: m.left - 8, y: fmt(py(t) + 4), 'text-anchor': 'end', class: 'axis-label' }, moneyShort(t)));
  }
  svg.append(grid);

  const area = (lo, hi) => {
    const upper = data.map((d) => `${fmt(px(d.year))},${fmt(py(d[hi]))}`);
    const lower = data.map((d) => `${fmt(px(d.year))},${fmt(py(d[lo]))}`).reverse();
    return `M${upper.join(' L')} L${lower.join(' L')} Z`;
  };
  if (data.length > 1) {
    svg.append(s('path', { d: area('p10', 'p90'), class: 'band band-outer' }, s('title', {}, '10th–90th percentile')));
    svg.append(s('path', { d: area('p25', 'p75'), class: 'band band-inner' }, s('title', {}, '25th–75th percentile')));
    svg.append(
      s('polyline', {
        points: data.map((d) => `${fmt(px(d.year))},${fmt(py(d.p50))}`).join(' '),
        class: 'median',
        fill: 'none',
      }),
    );
  } else {
    const d = data[0];
    const x = px(d.year);
    svg.append(s('line', { x1: x, x2: x, y1: fmt(py(d.p10)), y2: fmt(py(d.p90)), class: 'band-range' }));
  }
  // One labelled point per year (hover shows the numbers).
  const points = s('g', { class: 'points' });
  for (const d of data) {
    const label = `Year ${d.year}${startAge !== null ? ` (age ${startAge + d.year})` : ''}: median ${money(d.p50)}, 25–75%: ${money(d.p25)}–${money(d.p75)}, 10–90%: ${money(d.p10)}–${money(d.p90)}`;
    points.append(
      s('circle', { cx: fmt(px(d.year)), cy: fmt(py(d.p50)), r: data.length > 40 ? 2 : 3, class: 'median-dot', 'data-year': d.year, 'data-p50': d.p50 }, s('title', {}, label)),
    );
  }
  svg.append(points);

  // X axis: about six labels.
  const axis = s('g', { class: 'axis' });
  axis.append(s('line', { x1: m.left, x2: W - m.right, y1: H - m.bottom, y2: H - m.bottom }));
  const every = Math.max(1, Math.ceil(data.length / 6));
  data.forEach((d, i) => {
    if (i % every !== 0 && i !== data.length - 1) return;
    if (i !== data.length - 1 && data.length - 1 - i < every / 2) return;
    const label = startAge !== null ? `${startAge + d.year}` : `+${d.year}y`;
    axis.append(s('text', { x: fmt(px(d.year)), y: H - m.bottom + 16, 'text-anchor': 'middle', class: 'axis-label' }, label));
  });
  axis.append(
    s('text', { x: (m.left + W - m.right) / 2, y: H - 6, 'text-anchor': 'middle', class: 'axis-title' }, startAge !== null ? 'Age' : 'Years from now'),
  );
  svg.append(axis);
  return svg;
}

/**
 * One-minute candles (`bars[]` of `{time, open, high, low, close}` in dollars): a wick from low
 * to high and a body from open to close, green when the minute closed up. Fewer than one bar
 * draws a short label instead.
 */
export function candleChart(bars, { width = 560, height = 180, testid = 'candle-chart' } = {}) {
  const data = (Array.isArray(bars) ? bars : []).filter((b) => [b?.open, b?.high, b?.low, b?.close].every(Number.isFinite));
  if (!data.length) return h('p', { class: 'muted', 'data-testid': `${testid}-empty` }, 'No trades yet.');
  const low = Math.min(...data.map((b) => b.low));
  const high = Math.max(...data.map((b) => b.high));
  const span = high - low || 1;
  const pad = { top: 8, right: 56, bottom: 8, left: 4 };
  const plotW = width - pad.left - pad.right;
  const step = plotW / data.length;
  const y = (v) => pad.top + (1 - (v - low) / span) * (height - pad.top - pad.bottom);
  const body = Math.max(1, Math.min(10, step * 0.6));
  const last = data[data.length - 1];
  const text = `${data.length} one-minute bars from ${data[0].open.toFixed(2)} to ${last.close.toFixed(2)}, low ${low.toFixed(2)}, high ${high.toFixed(2)}`;
  return s('svg', { class: ['chart', 'candles'], viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': text, 'data-testid': testid, 'data-bars': data.length },
    s('title', {}, text),
    [high, (high + low) / 2, low].map((v) => s('text', { x: width - pad.right + 6, y: fmt(y(v) + 4), class: 'axis-label' }, v.toFixed(2))),
    data.map((b, i) => {
      const cx = pad.left + step * (i + 0.5);
      const up = b.close >= b.open;
      const top = y(Math.max(b.open, b.close));
      return s('g', { class: up ? 'candle-up' : 'candle-down' },
        s('line', { x1: fmt(cx), x2: fmt(cx), y1: fmt(y(b.high)), y2: fmt(y(b.low)), class: 'candle-wick' }),
        s('rect', { x: fmt(cx - body / 2), y: fmt(top), width: fmt(body), height: fmt(Math.max(1, y(Math.min(b.open, b.close)) - top)), class: 'candle-body' }));
    }));
}

/** Income and spending side by side for each month, with the savings rate under each pair. */
export function monthsChart(months, { width = 560, height = 200, testid = 'months-chart' } = {}) {
  const data = (Array.isArray(months) ? months : []).filter((m) => Number.isFinite(m?.income) && Number.isFinite(m?.spending));
  if (!data.length) return h('p', { class: 'muted', 'data-testid': `${testid}-empty` }, 'No months to show yet.');
  const top = Math.max(1, ...data.map((m) => Math.max(m.income, m.spending)));
  const pad = { top: 10, bottom: 34, left: 4, right: 4 };
  const plotH = height - pad.top - pad.bottom;
  const step = (width - pad.left - pad.right) / data.length;
  const bar = Math.min(28, step * 0.32);
  const text = data.map((m) => `${m.month}: income ${money(m.income)}, spending ${money(m.spending)}`).join('; ');
  return s('svg', { class: ['chart', 'months'], viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': text, 'data-testid': testid, 'data-months': data.length },
    s('title', {}, text),
    data.map((m, i) => {
      const x = pad.left + step * i + step / 2;
      const hIn = (m.income / top) * plotH;
      const hOut = (m.spending / top) * plotH;
      const base = pad.top + plotH;
      return s('g', {},
        s('rect', { x: fmt(x - bar - 1), y: fmt(base - hIn), width: fmt(bar), height: fmt(hIn), class: 'bar-income' }, s('title', {}, `${m.month} income ${money(m.income)}`)),
        s('rect', { x: fmt(x + 1), y: fmt(base - hOut), width: fmt(bar), height: fmt(hOut), class: 'bar-spending' }, s('title', {}, `${m.month} spending ${money(m.spending)}`)),
        s('text', { x: fmt(x), y: height - 18, class: 'axis-label', 'text-anchor': 'middle' }, m.month),
        s('text', { x: fmt(x), y: height - 4, class: 'axis-label', 'text-anchor': 'middle' }, m.savingsRate == null ? '' : `saved ${pct(m.savingsRate, 0)}`));
    }));
}
