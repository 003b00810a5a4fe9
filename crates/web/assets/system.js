// System: the live event stream as it arrives, service readiness (/readyz), the models
// (/v1/models) and what this deployment runs (/api/v1/system). Unknown fields are shown as they
// come rather than dropped.

import { api } from './api.js';
import { describeType, summarize } from './events.js';
import { h, replace, card, notice, spinner, uid, dateTime, timeOnly } from './dom.js';

const REFRESH_MS = 15000;

/** A generic rendering of any JSON value: objects as definition lists, arrays as lists. */
function jsonView(value, depth = 0) {
  if (value === null || value === undefined) return h('span', { class: 'muted' }, '—');
  if (Array.isArray(value)) {
    if (!value.length) return h('span', { class: 'muted' }, 'none');
    if (value.every((v) => typeof v !== 'object' || v === null)) return h('ul', { class: 'chips' }, value.map((v) => h('li', {}, String(v))));
    return h('ul', { class: 'json-list' }, value.map((v) => h('li', {}, jsonView(v, depth + 1))));
  }
  if (typeof value === 'object') {
    if (depth > 3) return h('code', {}, JSON.stringify(value));
    const entries = Object.entries(value);
    if (!entries.length) return h('span', { class: 'muted' }, 'none');
    return h('dl', { class: 'kv' }, entries.map(([k, v]) => h('div', { 'data-key': k }, h('dt', {}, k), h('dd', {}, jsonView(v, depth + 1)))));
  }
  if (typeof value === 'boolean') return h('span', {}, value ? 'yes' : 'no');
  return h('span', {}, String(value));
}

/** "embeddingModel" → "Embedding model". */
function humanize(key) {
  const words = String(key).replace(/[_-]+/g, ' ').replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function statusBadge(ok, text) {
  return h('span', { class: ['badge', ok ? 'badge-ok' : 'badge-failing'] }, text);
}

export async function render(root, ctx) {
  const { signal, hub } = ctx;
  const refresh = h('button', { type: 'button', class: 'button button-secondary', 'data-testid': 'refresh-system' }, 'Refresh');
  root.append(h('div', { class: 'page-head' },
    h('div', {}, h('h1', {}, 'System'), h('p', { class: 'lede' }, 'What is running, whether it is healthy, and the events flowing between the services.')),
    h('div', { class: 'page-actions' }, refresh)));

  const healthBody = h('div', {}, spinner('Checking…'));
  const modelsBody = h('div', {}, spinner('Loading…'));
  const systemBody = h('div', {}, spinner('Loading…'));

  // ----- live events ---------------------------------------------------------------------------
  const filterId = uid('event-filter');
  const filterInput = h('input', { id: filterId, type: 'search', placeholder: 'e.g. advice, document', autocomplete: 'off' });
  const count = h('span', { class: 'muted small', 'aria-live': 'polite' });
  const connection = h('span', { class: 'muted small', 'data-testid': 'stream-status' });
  const eventsBody = h('ol', { class: 'event-log', 'data-testid': 'event-stream-list' });
  const eventsCard = card('Live event stream', { testid: 'event-stream', class: 'card-wide',
    actions: h('div', { class: 'inline-controls' }, h('label', { for: filterId, class: 'small' }, 'Filter'), filterInput) },
  h('p', { class: 'stream-meta' }, connection, ' · ', count),
  eventsBody);

  root.append(h('div', { class: 'sys-grid' },
    card('Service health', { testid: 'health' }, healthBody),
    card('Models', { testid: 'models' }, modelsBody),
    card('Deployment', { testid: 'system-info' }, systemBody),
    eventsCard));

  const STATUS_TEXT = {
    live: 'Connected; new events appear as they happen.',
    connecting: 'Connecting to the event stream…',
    reconnecting: 'Connection lost; reconnecting…',
    offline: 'The event stream is unavailable; retrying.',
  };
  signal.addEventListener('abort', hub.onStatus((st) => {
    connection.textContent = STATUS_TEXT[st] || st;
    connection.dataset.status = st;
  }));

  function eventItem(ev) {
    return h('li', { class: 'event-row', 'data-testid': 'stream-event', 'data-type': ev.type, 'data-id': ev.id },
      h('div', { class: 'event-row-head' },
        h('time', { datetime: ev.time || '', title: dateTime(ev.time) }, timeOnly(ev.time)),
        h('strong', {}, describeType(ev.type)),
        h('code', { class: 'small' }, ev.type || ''),
        h('span', { class: 'muted small' }, summarize(ev))),
      h('details', {}, h('summary', {}, `Details · subject ${ev.subject || '—'}${ev.source ? ` · from ${ev.source}` : ''}`),
        h('pre', { class: 'json' }, JSON.stringify(ev.data ?? null, null, 2))));
  }

  function matches(ev) {
    const q = filterInput.value.trim().toLowerCase();
    if (!q) return true;
    return `${ev.type} ${describeType(ev.type)} ${ev.subject} ${summarize(ev)}`.toLowerCase().includes(q);
  }

  function renderEvents() {
    const list = hub.recent(200).filter(matches);
    count.textContent = `${list.length} event${list.length === 1 ? '' : 's'}${filterInput.value.trim() ? ' match' : ''}`;
    if (!list.length) {
      replace(eventsBody, h('li', { class: 'muted empty' }, hub.events.length ? 'No events match the filter.' : 'No events yet. They appear here as they happen.'));
      return;
    }
    replace(eventsBody, list.map(eventItem));
  }
  filterInput.addEventListener('input', renderEvents);
  signal.addEventListener('abort', hub.subscribe((ev) => {
    if (!matches(ev)) {
      renderEvents();
      return;
    }
    // Prepend rather than re-render, so open <details> stay open.
    eventsBody.querySelector('.empty')?.remove();
    eventsBody.prepend(eventItem(ev));
    while (eventsBody.children.length > 200) eventsBody.lastElementChild.remove();
    const n = eventsBody.querySelectorAll('.event-row').length;
    count.textContent = `${n} event${n === 1 ? '' : 's'}${filterInput.value.trim() ? ' match' : ''}`;
  }));
  renderEvents();

  // ----- status --------------------------------------------------------------------------------
  async function loadHealth() {
    try {
      const { ok, status, body } = await api.readiness();
      if (signal.aborted) return;
      const checks = body && typeof body.checks === 'object' && body.checks ? Object.entries(body.checks) : [];
      replace(healthBody,
        h('p', { class: 'health-overall', 'data-testid': 'readiness', 'data-ready': ok ? 'true' : 'false' },
          statusBadge(ok, ok ? 'Ready' : `Not ready (${status})`),
          !ok && body?.detail ? h('span', { class: 'small' }, ` ${body.detail}`) : null),
        checks.length
          ? h('ul', { class: 'check-list' }, checks.map(([name, st]) => h('li', { 'data-check': name },
            statusBadge(st === 'ok', st === 'ok' ? 'ok' : String(st)), ' ', name)))
          : h('p', { class: 'muted small' }, ok ? 'No individual checks reported.' : 'The failing checks are named above.'),
        h('p', { class: 'muted small' }, `Checked at ${timeOnly(new Date().toISOString())}.`));
    } catch (err) {
      if (!signal.aborted) replace(healthBody, notice('error', 'Cannot check readiness', err.message));
    }
  }

  async function loadModels(systemInfo) {
    const parts = [];
    try {
      const list = await api.models();
      const data = Array.isArray(list?.data) ? list.data : [];
      parts.push(h('h3', {}, 'OpenAI-compatible API (/v1)'));
      parts.push(data.length
        ? h('ul', { class: 'model-list', 'data-testid': 'model-list' }, data.map((m) => h('li', {},
          h('code', {}, m.id || '(no id)'), m.owned_by ? h('span', { class: 'muted small' }, ` · ${m.owned_by}`) : null)))
        : h('p', { class: 'muted' }, 'No models listed.'));
    } catch (err) {
      parts.push(notice(err.status === 404 ? 'info' : 'error', err.status === 404 ? 'This deployment does not serve /v1' : 'Cannot list models', err.message));
    }
    const configured = {};
    if (systemInfo?.chatModel !== undefined) configured['Chat model'] = systemInfo.chatModel ?? 'none loaded';
    if (systemInfo?.embeddingModel !== undefined) configured['Embedding model'] = systemInfo.embeddingModel ?? 'none loaded';
    if (systemInfo?.models !== undefined) Object.assign(configured, typeof systemInfo.models === 'object' && systemInfo.models ? systemInfo.models : { Models: systemInfo.models });
    if (Object.keys(configured).length) {
      parts.push(h('h3', {}, 'This process runs'));
      parts.push(jsonView(configured));
    }
    if (!signal.aborted) replace(modelsBody, parts);
  }

  async function loadSystem() {
    let info = null;
    try {
      info = await api.system();
      if (signal.aborted) return null;
      // Models are shown on the Models card; everything else here, unknown fields included.
      const { services, bus, models, chatModel, embeddingModel, version, ...rest } = info || {};
      replace(systemBody,
        h('dl', { class: 'kv' },
          h('div', { 'data-key': 'services' }, h('dt', {}, 'Services'), h('dd', {}, jsonView(services))),
          h('div', { 'data-key': 'bus' }, h('dt', {}, 'Event bus'), h('dd', {}, bus ?? '—')),
          version !== undefined ? h('div', { 'data-key': 'version' }, h('dt', {}, 'Version'), h('dd', {}, jsonView(version))) : null,
          Object.entries(rest).map(([k, v]) => h('div', { 'data-key': k }, h('dt', {}, humanize(k)), h('dd', {}, jsonView(v))))));
    } catch (err) {
      if (!signal.aborted) replace(systemBody, notice('error', 'Cannot read the system description', err.message));
    }
    return info;
  }

  async function loadAll() {
    refresh.disabled = true;
    const [, info] = await Promise.all([loadHealth(), loadSystem()]);
    await loadModels(info);
    refresh.disabled = false;
  }
  refresh.addEventListener('click', loadAll);
  const timer = setInterval(loadHealth, REFRESH_MS);
  signal.addEventListener('abort', () => clearInterval(timer));
  await loadAll();
}
