// Personalize: pick a profile, an advisor's voice, a book, a risk level and the holdings, then
// watch the advice being made: the stages, and the narrative as the model writes it (streamed
// from POST /api/v1/personalize/stream, read with fetch since EventSource cannot POST).

import { api, postEventStream, ApiError } from './api.js';
import { h, replace, card, notice, spinner, uid, pct, actionBadge, className } from './dom.js';
import { getProfileId, setProfileId } from './state.js';
import { showProblem, clearProblem } from './forms.js';
import { field, ADVISORS, RISKS } from './profile.js';
import { attachedCards } from './attached.js';

const STAGES = [
  { key: 'engine', label: 'Computing your numbers' },
  { key: 'library', label: 'Finding sources in the investing library' },
  { key: 'writing', label: 'Writing your advice' },
  { key: 'saving', label: 'Saving' },
];
const CLASSES = [
  { name: 'Stocks', label: 'Stocks' },
  { name: 'Bonds', label: 'Bonds' },
  { name: 'Cash', label: 'Cash' },
  { name: 'RealEstate', label: 'Real estate' },
];

/** "101.2, 102, 99.5" → [101.2, 102, 99.5]; an unreadable piece stays text for the server to name. */
function parsePrices(text) {
  return String(text || '')
    .split(/[,\s;]+/)
    .map((x) => x.trim())
    .filter(Boolean)
    .map((x) => (Number.isFinite(Number(x)) ? Number(x) : x));
}

function amount(text) {
  const t = String(text ?? '').trim();
  if (t === '') return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : t;
}

export async function render(root, ctx) {
  const { signal, toast } = ctx;
  root.append(h('div', { class: 'page-head' },
    h('div', {}, h('h1', {}, 'Personalize'),
      h('p', { class: 'lede' }, 'The engine computes every number; your coach explains them in the voice you choose, citing the investing library.'))));

  const formCol = h('div', { class: 'stack' }, spinner('Loading profiles…'));
  const outCol = h('div', { class: 'stack' });
  root.append(h('div', { class: 'two-col two-col-wide' }, formCol, outCol));

  let profiles;
  try {
    profiles = (await api.profiles()) || [];
  } catch (err) {
    if (!signal.aborted) replace(formCol, notice('error', 'Could not load your profiles', err.message));
    return;
  }
  if (signal.aborted) return;
  if (!profiles.length) {
    replace(formCol, notice('info', 'No profile yet', h('p', {}, 'Advice is for a profile: ', h('a', { href: '#/profile' }, 'create one first'), '.')));
    return;
  }

  // ----- form ----------------------------------------------------------------------------------
  const summary = h('div', { class: 'form-summary', tabindex: '-1', hidden: true, 'data-testid': 'form-problem' });
  const profileSelect = h('select', { 'data-testid': 'personalize-profile' }, profiles.map((p) => h('option', { value: p.id }, `${p.name} (${p.age}, ${p.riskTolerance})`)));
  const advisorsList = h('datalist', { id: uid('advisor-suggestions') }, ADVISORS.map((a) => h('option', { value: a })));
  const advisorInput = h('input', { type: 'text', list: advisorsList.id, autocomplete: 'off', 'data-testid': 'advisor-input' });
  const bookInput = h('input', { type: 'text', 'data-testid': 'book-input' });
  const riskSelect = h('select', { 'data-testid': 'risk-select' });
  const wanted = ctx.params.get('profile') || getProfileId();
  profileSelect.value = profiles.some((p) => p.id === wanted) ? wanted : profiles[0].id;

  function current() {
    return profiles.find((p) => p.id === profileSelect.value);
  }
  function prefill() {
    const p = current();
    advisorInput.value = p?.favoriteAdvisor || '';
    bookInput.value = p?.favoriteBook || '';
    replace(riskSelect,
      h('option', { value: '' }, `From the profile (${p?.riskTolerance || 'not set'})`),
      RISKS.map((r) => h('option', { value: r }, r)));
  }
  profileSelect.addEventListener('change', prefill);
  prefill();

  // Asset-class rows.
  const classInputs = CLASSES.map((c, i) => {
    const id = uid(`alloc-${c.name}`);
    const input = h('input', { id, type: 'number', min: '0', step: 'any', inputmode: 'decimal', 'data-class': c.name, 'aria-describedby': `${id}-err`, placeholder: '0' });
    return { ...c, input, row: h('div', { class: 'row-field' },
      h('label', { for: id }, c.label), input,
      h('p', { class: 'field-error', id: `${id}-err`, hidden: true })), index: i };
  });
  const total = h('p', { class: 'muted small', 'aria-live': 'polite' });
  const updateTotal = () => {
    const sum = classInputs.reduce((a, c) => a + (Number(c.input.value) || 0), 0);
    total.textContent = sum > 0 ? `Total ${sum.toLocaleString()} — any unit works (percent, fractions or money); only the proportions matter.` : 'Leave all blank to get a target without rebalancing.';
  };
  classInputs.forEach((c) => c.input.addEventListener('input', updateTotal));
  updateTotal();

  // Stock rows.
  const stockRows = h('div', { class: 'stock-rows', 'data-testid': 'stock-rows' });
  let rowCount = 0;
  function addStockRow(values = {}) {
    rowCount += 1;
    const n = rowCount;
    const mkInput = (key, attrs) => {
      const id = uid(`stock-${key}`);
      return h('input', { id, 'aria-describedby': `${id}-err`, ...attrs });
    };
    const symbol = mkInput('symbol', { type: 'text', autocapitalize: 'characters', autocomplete: 'off', spellcheck: 'false', maxlength: '12', value: values.symbol || '', 'data-testid': 'stock-symbol' });
    const alloc = mkInput('alloc', { type: 'number', min: '0', step: 'any', inputmode: 'decimal', value: values.allocation ?? '', 'data-testid': 'stock-allocation' });
    const prices = mkInput('prices', { type: 'text', inputmode: 'decimal', autocomplete: 'off', value: values.prices || '', placeholder: 'optional, oldest first', 'data-testid': 'stock-prices' });
    const remove = h('button', { type: 'button', class: 'button button-small button-secondary icon-button', 'aria-label': `Remove stock row ${n}` }, '×');
    const cell = (label, input, cls) => h('div', { class: ['row-field', cls] }, h('label', { for: input.id }, label, h('span', { class: 'sr-only' }, `, stock ${n}`)), input, h('p', { class: 'field-error', id: `${input.id}-err`, hidden: true }));
    const row = h('div', { class: 'stock-row', 'data-row': n },
      cell('Symbol', symbol, 'w-symbol'), cell('Allocation', alloc, 'w-alloc'), cell('Daily closes (comma-separated)', prices, 'w-prices'),
      h('div', { class: 'row-remove' }, remove));
    row.inputs = { symbol, alloc, prices };
    remove.addEventListener('click', () => {
      const next = row.nextElementSibling || row.previousElementSibling;
      row.remove();
      (next?.querySelector('input') || addButton).focus();
    });
    stockRows.append(row);
    return row;
  }
  const addButton = h('button', { type: 'button', class: 'button button-small button-secondary', 'data-testid': 'add-stock' }, '+ Add stock');
  addButton.addEventListener('click', () => addStockRow().inputs.symbol.focus());
  addStockRow();

  const submit = h('button', { type: 'submit', class: 'button button-primary', 'data-testid': 'run-personalize' }, 'Get personalized advice');
  const cancel = h('button', { type: 'button', class: 'button button-secondary', hidden: true }, 'Stop watching');
  const form = h('form', { class: 'form', novalidate: true, 'data-testid': 'personalize-form' },
    summary,
    h('div', { class: 'form-grid' },
      field({ name: 'userInfo.userId', label: 'Profile', input: profileSelect }),
      field({ name: 'userInfo.riskLevel', label: 'Risk level', input: riskSelect, hint: 'Overrides the profile’s risk tolerance for this advice only.' }),
      field({ name: 'userInfo.favoriteAdvisor', label: 'Advisor voice', input: advisorInput, hint: 'Anyone you like; e.g. Warren Buffett, Jack Bogle, Peter Lynch, Ray Dalio.' }),
      field({ name: 'userInfo.favoriteBook', label: 'Favourite book', input: bookInput }),
    ),
    advisorsList,
    h('fieldset', { class: 'fieldset' },
      h('legend', {}, 'Current holdings by asset class'),
      h('div', { class: 'class-rows', 'data-testid': 'class-rows' }, classInputs.map((c) => c.row)),
      total),
    h('fieldset', { class: 'fieldset' },
      h('legend', {}, 'Stocks you hold'),
      h('p', { class: 'muted small' }, 'Allocation in any unit. Prices give the volatility and the dashboard’s sparkline; leave them blank if you don’t have them.'),
      stockRows, addButton),
    h('div', { class: 'form-actions' }, submit, cancel),
  );
  replace(formCol, card('Ask your coach', { class: 'card-form' }, form));

  // ----- output --------------------------------------------------------------------------------
  const stageItems = STAGES.map((st) => h('li', { class: 'stage', 'data-stage': st.key, 'data-state': 'pending' },
    h('span', { class: 'stage-icon', 'aria-hidden': 'true' }), h('span', { class: 'stage-label' }, st.label), h('span', { class: 'sr-only stage-state' }, ' — waiting')));
  const elapsed = h('span', { class: 'muted small elapsed' });
  const progressStatus = h('p', { class: 'progress-status', role: 'status', 'aria-live': 'polite', 'data-testid': 'personalize-status' }, 'Fill in the form and ask for advice.');
  const progress = h('div', { class: 'progress', 'data-testid': 'personalize-progress', 'aria-busy': 'false' },
    progressStatus, h('ol', { class: 'stages' }, stageItems), elapsed);
  const streamed = h('p', { class: 'narrative streamed', 'data-testid': 'streamed-narrative', 'aria-live': 'off' });
  const resultSlot = h('div', {});
  replace(outCol,
    card('Progress', { class: 'card-progress' }, progress),
    card('Your coach’s words', { class: 'card-narrative', testid: 'streamed-card' }, streamed, h('p', { class: 'muted small' }, 'The words appear as the local model writes them; it can take up to a minute.')),
    resultSlot);

  function setStage(key) {
    const at = STAGES.findIndex((s) => s.key === key);
    if (at < 0) return;
    stageItems.forEach((li, i) => {
      const state = i < at ? 'done' : i === at ? 'active' : 'pending';
      li.dataset.state = state;
      li.querySelector('.stage-state').textContent = state === 'done' ? ' — done' : state === 'active' ? ' — in progress' : ' — waiting';
      if (state === 'active') li.setAttribute('aria-current', 'step');
      else li.removeAttribute('aria-current');
    });
    progressStatus.textContent = `${STAGES[at].label}…`;
  }
  function allDone() {
    stageItems.forEach((li) => {
      li.dataset.state = 'done';
      li.removeAttribute('aria-current');
      li.querySelector('.stage-state').textContent = ' — done';
    });
  }
  function resetStages() {
    stageItems.forEach((li) => {
      li.dataset.state = 'pending';
      li.removeAttribute('aria-current');
      li.querySelector('.stage-state').textContent = ' — waiting';
    });
  }

  function buildRequest() {
    const userInfo = { userId: profileSelect.value };
    const advisor = advisorInput.value.trim();
    const book = bookInput.value.trim();
    if (advisor) userInfo.favoriteAdvisor = advisor;
    if (book) userInfo.favoriteBook = book;
    if (riskSelect.value) userInfo.riskLevel = riskSelect.value;
    const portfolio = [];
    for (const c of classInputs) {
      const v = amount(c.input.value);
      c.input.removeAttribute('data-field');
      if (v === null) continue;
      c.input.dataset.field = `portfolio[${portfolio.length}].allocation`;
      portfolio.push({ name: c.name, allocation: v });
    }
    const stocks = [];
    for (const row of stockRows.querySelectorAll('.stock-row')) {
      const { symbol, alloc, prices } = row.inputs;
      for (const el of [symbol, alloc, prices]) el.removeAttribute('data-field');
      const sym = symbol.value.trim().toUpperCase();
      const a = amount(alloc.value);
      if (!sym && a === null && !prices.value.trim()) continue;
      const i = stocks.length;
      symbol.dataset.field = `stocks[${i}].symbol`;
      alloc.dataset.field = `stocks[${i}].allocation`;
      prices.dataset.field = `stocks[${i}].prices`;
      const entry = { symbol: sym, allocation: a };
      const series = parsePrices(prices.value);
      if (series.length) entry.prices = series;
      stocks.push(entry);
    }
    return { userInfo, portfolio, stocks };
  }

  let controller = null;
  let ticker = null;
  const stopTicker = () => clearInterval(ticker);
  signal.addEventListener('abort', () => {
    controller?.abort();
    stopTicker();
  });
  cancel.addEventListener('click', () => controller?.abort());

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (controller) return;
    clearProblem(form, summary);
    const body = buildRequest();
    setProfileId(body.userInfo.userId);
    controller = new AbortController();
    const mine = controller;
    const started = Date.now();
    submit.disabled = true;
    submit.textContent = 'Working…';
    cancel.hidden = false;
    progress.setAttribute('aria-busy', 'true');
    progress.dataset.state = 'running';
    streamed.setAttribute('aria-busy', 'true');
    streamed.classList.add('is-streaming');
    streamed.textContent = '';
    resetStages();
    replace(resultSlot);
    progressStatus.replaceChildren(spinner('Starting…'));
    ticker = setInterval(() => {
      elapsed.textContent = `${Math.round((Date.now() - started) / 1000)} s`;
    }, 1000);

    let advice = null;
    let problem = null;
    try {
      try {
        await postEventStream('/api/v1/personalize/stream', body, (ev) => {
          if (ev.event === 'stage') setStage(ev.data?.stage);
          else if (ev.event === 'narrative') {
            const delta = typeof ev.data === 'object' ? ev.data?.delta : ev.data;
            if (delta) {
              if (stageItems[2].dataset.state === 'pending') setStage('writing');
              streamed.append(document.createTextNode(delta));
            }
          } else if (ev.event === 'advice') advice = ev.data;
          else if (ev.event === 'problem') problem = new ApiError(ev.data?.status || 500, ev.data);
        }, { signal: mine.signal });
      } catch (err) {
        if (!(err instanceof ApiError) || (err.status !== 404 && err.status !== 405)) throw err;
        // The streaming endpoint is not deployed: ask the plain one and wait.
        progressStatus.replaceChildren(spinner('Waiting for your coach (no live progress from this server)…'));
        setStage('engine');
        advice = await api.personalize(body, { signal: mine.signal });
      }
      if (!advice && !problem) problem = new ApiError(0, { title: 'The advice stream ended early', detail: 'No advice arrived. Try again; if it keeps happening, see the server log.' });
    } catch (err) {
      problem = err;
    } finally {
      stopTicker();
      elapsed.textContent = '';
      controller = null;
      submit.disabled = false;
      submit.textContent = 'Get personalized advice';
      cancel.hidden = true;
      progress.setAttribute('aria-busy', 'false');
      streamed.setAttribute('aria-busy', 'false');
      streamed.classList.remove('is-streaming');
    }
    if (signal.aborted) return;

    if (problem) {
      progress.dataset.state = 'failed';
      if (problem.name === 'AbortError') {
        progressStatus.textContent = 'Stopped watching. The advice is still being written and will appear on the dashboard.';
        return;
      }
      progressStatus.textContent = 'No advice this time.';
      showProblem(form, summary, problem);
      return;
    }
    allDone();
    progress.dataset.state = 'done';
    if (advice.narrative && streamed.textContent.trim() !== advice.narrative.trim()) streamed.textContent = advice.narrative;
    const seconds = Math.round((Date.now() - started) / 1000);
    progressStatus.textContent = advice.cached ? 'Done — the same request was answered before, so here is that advice again.' : `Done in ${seconds} s.`;
    replace(resultSlot, result(advice, ctx));
    toast('Your advice is ready.', 'success');
  });
}

function result(advice, ctx) {
  const assets = advice.assets?.portfolio || [];
  const stocks = advice.investments?.portfolio || [];
  const citations = advice.citations || [];
  return card('Your advice', { testid: 'advice-result', class: 'card-result' },
    h('div', { 'data-advice-id': advice.id, class: 'result-body' },
      h('h3', {}, 'Asset classes'),
      h('ul', { class: 'action-list' }, assets.map((a) => h('li', {},
        actionBadge(a.action), ' ', h('strong', {}, className(a.name)),
        h('span', { class: 'muted' }, ` ${a.current == null ? '' : `${pct(a.current)} → `}${pct(a.target)}`),
        a.gptRecommendation ? h('p', { class: 'small' }, a.gptRecommendation) : null))),
      attachedCards(`advice:${advice.id}`, ctx),
      stocks.length ? h('h3', {}, 'Stocks') : null,
      stocks.length ? h('ul', { class: 'action-list' }, stocks.map((s) => h('li', {},
        actionBadge(s.action), ' ', h('strong', {}, s.symbol),
        s.gptRecommendation ? h('p', { class: 'small' }, s.gptRecommendation) : null))) : null,
      citations.length ? h('h3', {}, 'Sources') : null,
      citations.length ? h('ol', { class: 'citations' }, citations.map((c) => h('li', {}, h('blockquote', {}, c.snippet || ''), h('cite', {}, c.documentName || '')))) : null,
      h('p', { class: 'result-actions' },
        h('a', { class: 'button button-primary', href: `#/dashboard?profile=${encodeURIComponent(advice.userId)}`, 'data-testid': 'dashboard-link' }, 'See it on your dashboard'))));
}
