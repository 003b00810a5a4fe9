// Small DOM helpers and number formatting. Everything that puts server data on screen goes
// through `h` (textContent, never innerHTML), so no response can inject markup.

const SVG_NS = 'http://www.w3.org/2000/svg';

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === 'class') {
      el.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : value);
    } else if (key === 'dataset') {
      for (const [k, v] of Object.entries(value)) el.dataset[k] = v;
    } else if (key === 'text') {
      el.textContent = value;
    } else if (value === true) {
      el.setAttribute(key, '');
    } else {
      el.setAttribute(key, String(value));
    }
  }
}

/** An HTML element: `h('button', {type: 'button', onClick}, 'Save')`. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/** An SVG element, same calling convention as `h`. */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function replace(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

let idCounter = 0;
/** A document-unique id for label/aria wiring. */
export function uid(prefix = 'id') {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

// ---------------------------------------------------------------------------------------------
// Formatting

const isNum = (x) => typeof x === 'number' && Number.isFinite(x);

/** A share (0..1) as a percentage with one decimal: 0.6234 → "62.3%". */
export function pct(x, digits = 1) {
  return isNum(x) ? `${(x * 100).toFixed(digits)}%` : '—';
}

/** A drift (difference of shares) in percentage points with its sign: 0.052 → "+5.2 pts". */
export function pts(x) {
  if (!isNum(x)) return '—';
  const v = x * 100;
  const sign = v > 0.05 ? '+' : v < -0.05 ? '−' : '±';
  return `${sign}${Math.abs(v).toFixed(1)} pts`;
}

const money0 = new Intl.NumberFormat('en-US', {
  style: 'currency',
  currency: 'USD',
  maximumFractionDigits: 0,
});
const moneyCompact = new Intl.NumberFormat('en-US', {
  style: 'currency',
  currency: 'USD',
  notation: 'compact',
  maximumFractionDigits: 1,
});

export function money(x) {
  return isNum(x) ? money0.format(x) : '—';
}

export function moneyShort(x) {
  return isNum(x) ? moneyCompact.format(x) : '—';
}

export function num(x, digits = 2) {
  return isNum(x) ? x.toFixed(digits) : '—';
}

export function bytes(n) {
  if (!isNum(n)) return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function dateTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}

export function timeOnly(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** "RealEstate" → "Real estate", "realEstate" → "Real estate". */
export function className(name) {
  const words = String(name).replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The four asset classes: API key in `Allocation`, name in `Drift.class`, CSS modifier. */
export const ASSET_CLASSES = [
  { key: 'stocks', name: 'Stocks', css: 'stocks' },
  { key: 'bonds', name: 'Bonds', css: 'bonds' },
  { key: 'cash', name: 'Cash', css: 'cash' },
  { key: 'realEstate', name: 'RealEstate', css: 'realestate' },
];

/** A badge for Buy / Sell / Hold (or any other action word the API grows). */
export function actionBadge(action) {
  const a = String(action ?? '—');
  return h('span', { class: ['badge', `badge-${a.toLowerCase()}`] }, a);
}

/** A card with a heading; `opts.testid` becomes its data-testid. */
export function card(title, opts = {}, ...children) {
  const headingId = uid('card');
  return h(
    'section',
    {
      class: ['card', opts.class],
      'aria-labelledby': headingId,
      'data-testid': opts.testid,
    },
    h('header', { class: 'card-head' }, h('h2', { id: headingId }, title), opts.actions || null),
    ...children,
  );
}

/** A message block for empty, loading and error states. */
export function notice(kind, title, ...body) {
  return h(
    'div',
    { class: ['notice', `notice-${kind}`], role: kind === 'error' ? 'alert' : null },
    h('p', { class: 'notice-title' }, title),
    ...body.map((b) => (b instanceof Node ? b : h('p', {}, b))),
  );
}

export function spinner(label = 'Loading…') {
  return h('span', { class: 'spinner-wrap' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), h('span', {}, label));
}
