// Dashboard: the chosen profile, its latest advice (allocation donut, Buy/Sell/Hold per asset
// class, per-stock advice with price sparklines, the projection, the narrative with citations)
// and recent events. New advice for the profile (miyagi.advice.generated.v1 on the live stream)
// is fetched and shown without a reload.

import { api } from './api.js';
import { EVENT_TYPES, describeType, summarize } from './events.js';
import {
  h, replace, card, notice, spinner, uid, pct, pts, money, num, dateTime, timeOnly,
  className, actionBadge, ASSET_CLASSES,
} from './dom.js';
import { donut, donutLegend, sparkline, projectionChart } from './charts.js';
import { getProfileId, setProfileId, lastSeenAdvice, markAdviceSeen } from './state.js';

const FLASH_MS = 10000;

/** Milliseconds since the epoch of an RFC 3339 time (NaN when absent). */
const ms = (t) => (t ? Date.parse(t) : NaN);

/** Mirrors the engine's AssetClass::parse, to match "HomeEquity" and friends to a class. */
function classKey(name) {
  const key = String(name || '').toLowerCase().replace(/[^a-z0-9]/g, '');
  if (['stocks', 'stock', 'equities', 'equity', 'shares'].includes(key)) return 'stocks';
  if (['bonds', 'bond', 'fixedincome'].includes(key)) return 'bonds';
  if (['cash', 'savings', 'moneymarket'].includes(key)) return 'cash';
  if (['realestate', 'homeequity', 'home', 'property'].includes(key)) return 'realEstate';
  return null;
}

/**
 * The price series the advice was computed from, when the advice carries it: the request's
 * `stocks[].prices` (as `advice.request`), or prices echoed on the engine's holdings.
 */
export function pricesFor(advice, symbol) {
  const same = (s) => String(s?.symbol || '').toUpperCase() === String(symbol).toUpperCase();
  const fromRequest = advice?.request?.stocks?.find?.(same)?.prices;
  if (Array.isArray(fromRequest) && fromRequest.length) return fromRequest;
  const fromEngine = advice?.engine?.stocks?.holdings?.find?.(same)?.prices;
  if (Array.isArray(fromEngine) && fromEngine.length) return fromEngine;
  return [];
}

export async function render(root, ctx) {
  const { signal, hub } = ctx;
  const pickerId = uid('profile-picker');
  const select = h('select', { id: pickerId, 'data-testid': 'profile-picker', disabled: true }, h('option', { value: '' }, 'Loading profiles…'));
  const liveSlot = h('div', { class: 'live-slot', 'aria-live': 'polite', 'aria-atomic': 'true' });
  const actions = h('div', { class: 'page-actions' },
    h('div', { class: 'field field-inline' }, h('label', { for: pickerId }, 'Profile'), select),
    h('a', { class: 'button button-secondary', href: '#/personalize', 'data-testid': 'new-advice-link' }, 'New advice'),
  );
  const head = h('div', { class: 'page-head' },
    h('div', {}, h('h1', {}, 'Dashboard'), h('p', { class: 'lede' }, 'Your plan at a glance: where you are, where the engine says to be, and why.')),
    actions,
  );
  const body = h('div', { class: 'dash', 'data-testid': 'dashboard', 'aria-busy': 'true' }, spinner('Loading profiles…'));
  const eventsList = h('ol', { class: 'event-list' });
  const eventsCard = card('Recent events', { testid: 'recent-events', class: 'card-events' }, eventsList);
  root.append(head, liveSlot, body);

  let profiles = [];
  let selected = null; // profile object
  let shown = null; // advice shown now
  let loading = null; // promise of the advice load in flight
  let again = false; // another load was asked for while one was in flight
  let flashTimer = null;

  // ----- recent events -------------------------------------------------------------------------
  function renderEvents() {
    const events = hub.recent(12);
    if (!events.length) {
      replace(eventsList, h('li', { class: 'muted empty' }, hub.status === 'live' ? 'No events yet.' : 'Waiting for the live event stream…'));
      return;
    }
    replace(
      eventsList,
      events.map((ev) => {
        const mine = selected && (ev.data?.userId === selected.id || ev.subject === selected.id || ev.data?.id === selected.id);
        return h('li', { class: ['event-item', mine && 'event-mine'], 'data-testid': 'event-item', 'data-type': ev.type },
          h('span', { class: 'event-time' }, h('time', { datetime: ev.time || '' }, timeOnly(ev.time))),
          h('span', { class: 'event-type' }, describeType(ev.type)),
          h('span', { class: 'event-summary' }, summarize(ev)),
        );
      }),
    );
  }

  // ----- profiles ------------------------------------------------------------------------------
  try {
    profiles = (await api.profiles()) || [];
  } catch (err) {
    if (signal.aborted) return;
    body.setAttribute('aria-busy', 'false');
    replace(select, h('option', { value: '' }, 'Unavailable'));
    const retry = h('button', { type: 'button', class: 'button', onClick: () => ctx.reload() }, 'Try again');
    replace(body, notice('error', 'Could not load your profiles', err.message, retry), eventsCard);
    renderEvents();
    signal.addEventListener('abort', hub.subscribe(renderEvents));
    return;
  }
  if (signal.aborted) return;

  if (!profiles.length) {
    body.setAttribute('aria-busy', 'false');
    replace(select, h('option', { value: '' }, 'No profiles yet'));
    replace(
      body,
      notice('info', 'No profile yet', h('p', {}, 'Create a profile to get advice: ', h('a', { href: '#/profile', 'data-testid': 'create-profile-link' }, 'create your first profile'), '.')),
      eventsCard,
    );
    renderEvents();
    signal.addEventListener('abort', hub.subscribe(renderEvents));
    return;
  }

  const wanted = ctx.params.get('profile') || getProfileId();
  selected = profiles.find((p) => p.id === wanted) || profiles[0];
  setProfileId(selected.id);
  replace(select, profiles.map((p) => h('option', { value: p.id, selected: p.id === selected.id }, `${p.name} (${p.age}, ${p.riskTolerance})`)));
  select.disabled = false;
  select.addEventListener('change', () => {
    selected = profiles.find((p) => p.id === select.value) || selected;
    setProfileId(selected.id);
    shown = null;
    clearTimeout(flashTimer);
    replace(liveSlot);
    load();
  });

  // ----- advice --------------------------------------------------------------------------------
  function load() {
    if (loading) {
      again = true;
      return loading;
    }
    body.setAttribute('aria-busy', 'true');
    loading = (async () => {
      do {
        again = false;
        const profileId = selected.id;
        let advice = null;
        let error = null;
        try {
          // The profile itself may have changed too (an edit is what triggers a refresh).
          const [a, p] = await Promise.all([api.latestAdvice(profileId), api.profile(profileId).catch(() => null)]);
          advice = a;
          if (p) {
            selected = p;
            profiles = profiles.map((x) => (x.id === p.id ? p : x));
          }
        } catch (err) {
          error = err;
        }
        if (signal.aborted || profileId !== selected.id) continue;
        if (error) {
          replace(body, notice('error', 'Could not load advice', error.message), eventsCard);
          continue;
        }
        const previous = shown || lastSeenAdvice(profileId);
        const isNew = !!(advice && previous && previous.id !== advice.id && !(ms(advice.createdAt) < ms(previous.createdAt)));
        if (!advice || !shown || shown.id !== advice.id || !body.querySelector('[data-testid="advice"]')) {
          shown = advice;
          draw(advice);
        }
        if (advice) markAdviceSeen(profileId, advice);
        if (isNew) flash(advice);
      } while (again && !signal.aborted);
    })().finally(() => {
      loading = null;
      body.setAttribute('aria-busy', 'false');
    });
    return loading;
  }

  function flash(advice) {
    clearTimeout(flashTimer);
    const why = advice.trigger === 'profile-updated' ? 'after your profile changed' : 'with new advice';
    const el = h('p', {
      class: 'live-update is-fresh',
      'data-testid': 'live-update',
      'data-advice-id': advice.id,
    }, h('span', { class: 'live-pulse', 'aria-hidden': 'true' }), `Updated ${why} at ${timeOnly(advice.createdAt)}`);
    replace(liveSlot, el);
    flashTimer = setTimeout(() => el.classList.remove('is-fresh'), FLASH_MS);
  }
  signal.addEventListener('abort', () => clearTimeout(flashTimer));

  function draw(advice) {
    const summary = profileSummary(selected, advice);
    if (!advice) {
      replace(
        body,
        summary,
        notice('info', 'No advice for this profile yet',
          h('p', {}, h('a', { href: `#/personalize?profile=${encodeURIComponent(selected.id)}`, 'data-testid': 'personalize-link' }, 'Get personalized advice'), ' — it takes the local model up to a minute.')),
        eventsCard,
      );
      renderEvents();
      return;
    }
    replace(
      body,
      h('div', { class: 'dash-grid', 'data-testid': 'advice', 'data-advice-id': advice.id, 'data-created-at': advice.createdAt || '' },
        summary,
        allocationCard(advice),
        driftCard(advice),
        stocksCard(advice),
        projectionCard(advice),
        narrativeCard(advice),
        eventsCard,
      ),
    );
    renderEvents();
  }

  // ----- live ----------------------------------------------------------------------------------
  const unsubscribe = hub.subscribe((ev) => {
    renderEvents();
    if (ev.type !== EVENT_TYPES.adviceGenerated || !selected) return;
    const data = ev.data || {};
    if (data.userId !== selected.id) return;
    if (shown && data.adviceId === shown.id) return;
    // A replayed event about advice older than what is shown changes nothing.
    if (shown && ms(data.createdAt) < ms(shown.createdAt)) return;
    load();
  });
  signal.addEventListener('abort', unsubscribe);

  await load();
}

// ----- cards -------------------------------------------------------------------------------------

function profileSummary(p, advice) {
  const household = advice?.engine?.household;
  const risk = advice?.engine?.risk;
  const rows = [
    ['Age', p.age, 'age'],
    ['Retires at', p.retirementAge, 'retirementAge'],
    ['Household income', money(p.annualHouseholdIncome), 'annualHouseholdIncome'],
    ['Assets', money(p.assets), 'assets'],
    ['Liabilities', money(p.liabilities), 'liabilities'],
    ['Net worth', money((Number(p.assets) || 0) - (Number(p.liabilities) || 0)), 'netWorth'],
    ['Risk tolerance', p.riskTolerance, 'riskTolerance'],
  ];
  if (risk) {
    rows.push(['Risk score', `${num(risk.score)} (capacity ${num(risk.capacity)}, willingness ${num(risk.willingness)})`, 'riskScore']);
    rows.push(['Years to retirement', risk.yearsToRetirement, 'yearsToRetirement']);
  }
  if (p.favoriteAdvisor) rows.push(['Favourite advisor', p.favoriteAdvisor, 'favoriteAdvisor']);
  if (p.favoriteBook) rows.push(['Favourite book', p.favoriteBook, 'favoriteBook']);
  const goals = Array.isArray(p.goals) && p.goals.length ? h('ul', { class: 'chips' }, p.goals.map((g) => h('li', {}, g))) : null;
  const stale = household && household.profileVersion != null && p.version != null && household.profileVersion !== p.version;
  return card(p.name, {
    testid: 'profile-summary',
    class: 'card-summary',
    actions: h('a', { href: `#/profile?id=${encodeURIComponent(p.id)}`, class: 'button button-small button-secondary' }, 'Edit'),
  },
  h('dl', { class: 'facts' }, rows.map(([k, v, key]) => h('div', { 'data-key': key }, h('dt', {}, k), h('dd', {}, v ?? '—')))),
  goals ? h('div', { class: 'goals' }, h('h3', {}, 'Goals'), goals) : null,
  advice
    ? h('p', { class: 'meta', 'data-testid': 'advice-meta' },
      `Advice of ${dateTime(advice.createdAt)} · `, advice.trigger === 'profile-updated' ? 'refreshed after a profile change' : 'requested',
      advice.cached ? ' · from an identical earlier request' : '', advice.model ? ` · written by ${advice.model}` : '',
      stale ? ' · computed from an older version of this profile; a refresh is on its way' : '')
    : null,
  );
}

function allocationCard(advice) {
  const { target, current } = advice.engine || {};
  return card('Asset allocation', { class: 'card-allocation', testid: 'allocation' },
    h('div', { class: 'donut-wrap' }, donut(target, current || null), donutLegend(target, current || null)),
    current ? null : h('p', { class: 'muted small' }, 'No current holdings were given with this advice, so only the target is shown.'),
  );
}

function driftCard(advice) {
  const engine = advice.engine || {};
  const notes = new Map();
  for (const rec of advice.assets?.portfolio || []) {
    const key = classKey(rec.name);
    if (key) notes.set(key, rec);
  }
  const drift = Array.isArray(engine.drift) ? engine.drift : [];
  const rows = drift.length
    ? drift.map((d) => ({ key: classKey(d.class), name: d.class, current: d.current, target: d.target, drift: d.drift, action: d.action }))
    : ASSET_CLASSES.map((c) => {
      const rec = notes.get(c.key);
      return { key: c.key, name: c.name, current: rec?.current ?? null, target: rec?.target ?? engine.target?.[c.key], drift: null, action: rec?.action ?? null };
    });
  const table = h('table', { class: 'data-table', 'data-testid': 'drift-table' },
    h('caption', { class: 'sr-only' }, 'Buy, sell or hold per asset class'),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'Asset class'),
      h('th', { scope: 'col', class: 'num' }, 'Now'),
      h('th', { scope: 'col', class: 'num' }, 'Target'),
      h('th', { scope: 'col', class: 'num' }, 'Drift'),
      h('th', { scope: 'col' }, 'Action'),
      h('th', { scope: 'col', class: 'wide' }, 'Coach’s note'),
    )),
    h('tbody', {}, rows.map((r) => h('tr', { 'data-class': r.name },
      h('th', { scope: 'row' }, h('span', { class: ['swatch', `c-${String(r.key || '').toLowerCase()}`], 'aria-hidden': 'true' }), className(r.name)),
      h('td', { class: 'num', 'data-col': 'current', 'data-value': r.current ?? '' }, r.current == null ? '—' : pct(r.current)),
      h('td', { class: 'num', 'data-col': 'target', 'data-value': r.target ?? '' }, pct(r.target)),
      h('td', { class: ['num', r.drift > 0 ? 'pos' : r.drift < 0 ? 'neg' : ''], 'data-col': 'drift', 'data-value': r.drift ?? '' }, r.drift == null ? '—' : pts(r.drift)),
      h('td', { 'data-col': 'action', 'data-value': r.action ?? '' }, r.action ? actionBadge(r.action) : '—'),
      h('td', { class: 'note', 'data-col': 'note' }, notes.get(r.key)?.gptRecommendation || ''),
    ))),
  );
  return card('Rebalancing', { class: 'card-drift', testid: 'drift' },
    h('div', { class: 'table-scroll' }, table),
    drift.length ? h('p', { class: 'muted small' }, 'Within 5 points of target an asset class is held; beyond that, buy or sell back toward it.') : h('p', { class: 'muted small' }, 'No current holdings were given, so each class builds toward its target.'),
  );
}

function stocksCard(advice) {
  const holdings = advice.engine?.stocks?.holdings || [];
  const recs = advice.investments?.portfolio || [];
  const symbols = [...new Set([...holdings.map((x) => x.symbol), ...recs.map((x) => x.symbol)])];
  const sleeve = advice.engine?.stocks;
  if (!symbols.length) {
    return card('Stocks', { class: 'card-stocks', testid: 'stocks' },
      h('table', { class: 'data-table', 'data-testid': 'stock-table', 'data-empty': 'true' },
        h('caption', { class: 'sr-only' }, 'Per-stock advice'),
        h('tbody', {}, h('tr', {}, h('td', { class: 'muted' }, 'No individual stocks were part of this advice.')))));
  }
  const table = h('table', { class: 'data-table', 'data-testid': 'stock-table' },
    h('caption', { class: 'sr-only' }, 'Per-stock advice'),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'Symbol'),
      h('th', { scope: 'col' }, 'Action'),
      h('th', { scope: 'col', class: 'num' }, 'Of stocks'),
      h('th', { scope: 'col', class: 'num' }, 'Of portfolio'),
      h('th', { scope: 'col', class: 'num' }, 'Volatility'),
      h('th', { scope: 'col' }, 'Prices'),
      h('th', { scope: 'col', class: 'wide' }, 'Advice'),
    )),
    h('tbody', {}, symbols.map((sym) => {
      const m = holdings.find((x) => x.symbol === sym) || {};
      const r = recs.find((x) => x.symbol === sym) || {};
      const action = r.action || m.action;
      return h('tr', { 'data-symbol': sym },
        h('th', { scope: 'row' }, sym),
        h('td', { 'data-col': 'action', 'data-value': action ?? '' }, action ? actionBadge(action) : '—'),
        h('td', { class: 'num', 'data-col': 'weight', 'data-value': m.weight ?? '' }, pct(m.weight)),
        h('td', { class: 'num', 'data-col': 'portfolioWeight', 'data-value': m.portfolioWeight ?? '' }, pct(m.portfolioWeight)),
        h('td', { class: 'num', 'data-col': 'volatility', 'data-value': m.volatility ?? '' }, m.volatility == null ? '—' : pct(m.volatility)),
        h('td', { 'data-col': 'prices' }, sparkline(pricesFor(advice, sym), { label: `${sym} price` })),
        h('td', { class: 'note', 'data-col': 'advice' }, r.gptRecommendation || m.reason || ''),
      );
    })),
  );
  const fromAccount = advice.investments?.stocksFrom === 'paper-account';
  return card('Stocks', { class: 'card-stocks', testid: 'stocks' },
    fromAccount ? h('p', { class: 'muted small', 'data-testid': 'stocks-from' }, 'The positions of your paper trading account, weighted by their market value.') : null,
    h('div', { class: 'table-scroll' }, table),
    sleeve ? h('p', { class: 'muted small' }, `Concentration (HHI) ${num(sleeve.concentration)} · like ${num(sleeve.effectiveHoldings, 1)} equally weighted stocks.`) : null,
  );
}

function projectionCard(advice) {
  const projection = advice.engine?.projection || {};
  const years = Array.isArray(projection.years) ? projection.years : [];
  const startAge = Number.isFinite(advice.engine?.household?.age) ? advice.engine.household.age : null;
  const end = years[years.length - 1];
  const stats = end
    ? h('dl', { class: 'facts facts-row', 'data-testid': 'projection-stats' },
      h('div', {}, h('dt', {}, 'Median at retirement'), h('dd', { 'data-value': end.p50 }, money(end.p50))),
      h('div', {}, h('dt', {}, '1 in 10 below'), h('dd', { 'data-value': end.p10 }, money(end.p10))),
      h('div', {}, h('dt', {}, '1 in 10 above'), h('dd', { 'data-value': end.p90 }, money(end.p90))),
      h('div', {}, h('dt', {}, 'Expected real return'), h('dd', {}, pct(projection.expectedReturn))),
      h('div', {}, h('dt', {}, 'Volatility'), h('dd', {}, pct(projection.volatility))))
    : null;
  const dataTable = years.length
    ? h('details', { class: 'data-details' },
      h('summary', {}, 'Show the numbers'),
      h('div', { class: 'table-scroll' }, h('table', { class: 'data-table compact' },
        h('caption', { class: 'sr-only' }, 'Projected wealth percentiles by year'),
        h('thead', {}, h('tr', {}, ['Year', 'Age', '10%', '25%', 'Median', '75%', '90%'].map((t, i) => h('th', { scope: 'col', class: i > 1 ? 'num' : null }, t)))),
        h('tbody', {}, years.map((y) => h('tr', {},
          h('td', {}, y.year), h('td', {}, startAge !== null ? startAge + y.year : '—'),
          ...['p10', 'p25', 'p50', 'p75', 'p90'].map((k) => h('td', { class: 'num' }, money(y[k])))))))))
    : null;
  return card('Retirement projection', { class: 'card-projection', testid: 'projection' },
    h('div', { class: 'chart-wrap' }, projectionChart(years, { startAge })),
    h('ul', { class: 'chart-key', 'aria-hidden': 'true' },
      h('li', {}, h('span', { class: 'key key-outer' }), '10th–90th percentile'),
      h('li', {}, h('span', { class: 'key key-inner' }), '25th–75th'),
      h('li', {}, h('span', { class: 'key key-median' }), 'Median')),
    stats,
    h('p', { class: 'muted small' }, `In today’s money, from ${num(projection.paths, 0)} simulated market paths.`),
    savingsNote(advice.engine?.household),
    dataTable,
  );
}

function narrativeCard(advice) {
  const citations = Array.isArray(advice.citations) ? advice.citations : [];
  const rejected = Array.isArray(advice.rejectedCitations) ? advice.rejectedCitations : [];
  return card('Your coach says', { class: 'card-narrative', testid: 'narrative-card' },
    h('p', { class: 'narrative', 'data-testid': 'narrative' }, advice.narrative || '—'),
    citations.length
      ? h('div', { class: 'citations', 'data-testid': 'citations' },
        h('h3', {}, 'Sources'),
        h('ol', {}, citations.map((c) => h('li', {},
          h('blockquote', {}, c.snippet || ''),
          h('cite', {}, c.documentName || 'Unnamed document')))))
      : h('p', { class: 'muted small' }, 'No citations with this advice.'),
    rejected.length ? h('p', { class: 'muted small' }, `${rejected.length} citation(s) the model offered were refused by the verifier.`) : null,
    writingNote(advice.writing),
  );
}

// Whose words these are: the opening figures are always the engine's; after them, the model's
// sentences unless they failed the checks for sense twice.
/** Where the projection's savings and the cash reserve come from: the person's transactions, or income. */
function savingsNote(household) {
  if (!household || !Number.isFinite(household.annualSavings)) return null;
  const flow = household.cashFlow;
  const text = flow
    ? `Saving ${money(household.annualSavings)} a year and a cash reserve of ${money(household.cashReserve)} (six months of spending), from your transactions: ${money(flow.monthlyIncome)} in and ${money(flow.monthlySpending)} out in a usual month (${flow.months} months).`
    : `Saving ${money(household.annualSavings)} a year (15% of income) and a cash reserve of ${money(household.cashReserve)} (six months of income): import your transactions on the Spending page to base both on what you really spend.`;
  return h('p', { class: 'muted small', 'data-testid': 'savings-from' }, text);
}

function writingNote(writing) {
  if (!writing) return null;
  const refused = Array.isArray(writing.refused) ? writing.refused : [];
  const byTemplate = writing.narrativeBy === 'template';
  if (!byTemplate && !refused.length) return null;
  return h('details', { class: 'muted small', 'data-testid': 'writing-note' },
    h('summary', {}, byTemplate
      ? 'The model’s sentences did not pass the checks for sense; the engine’s own words stand in.'
      : `${refused.length} of the model’s notes did not pass the checks for sense and were left out.`),
    h('ul', {}, refused.map((reason) => h('li', {}, reason))));
}
