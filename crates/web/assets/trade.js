// Trade: paper trading against the simulated market. Live quotes and the chosen stock's depth
// come from the markets stream; the order ticket, your orders, positions and account from the
// API, refreshed when the live event stream says one of your orders changed.

import { api, readEventStream } from './api.js';
import { EVENT_TYPES } from './events.js';
import { h, replace, card, notice, spinner, timeOnly } from './dom.js';
import { showProblem, clearProblem } from './forms.js';
import { candleChart } from './charts.js';
import { field } from './profile.js';

const usdFormat = new Intl.NumberFormat(undefined, { style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: 2 });
const usd = (x) => (Number.isFinite(x) ? usdFormat.format(x) : '—');
const price = (x) => (Number.isFinite(x) ? x.toFixed(2) : '—');
const BAR_REFRESH_MS = 15000;
const RECONNECT_MS = 2000;

export async function render(root, ctx) {
  const { signal, hub, toast, params } = ctx;
  root.append(h('div', { class: 'page-head' },
    h('div', {}, h('h1', {}, 'Trade'),
      h('p', { class: 'lede' }, 'Paper trading with $100,000 of play money, against a market of simulated traders whose prices move as each stock’s history says they should.'))));

  const quotes = await api.quotes();
  if (signal.aborted) return;
  let symbol = (params.get('symbol') || 'AAPL').toUpperCase();
  if (!quotes.some((q) => q.symbol === symbol)) symbol = quotes[0]?.symbol;

  // ----- quote and ladder ----------------------------------------------------------------------
  const symbolSelect = h('select', { 'data-testid': 'trade-symbol', 'aria-label': 'Stock' },
    quotes.map((q) => h('option', { value: q.symbol, selected: q.symbol === symbol }, q.symbol)));
  const quoteHead = h('div', { class: 'quote-head', 'data-testid': 'quote', 'aria-live': 'off' });
  const ladder = h('div', { 'data-testid': 'ladder' }, spinner('Waiting for the market…'));
  const bars = h('div', { 'data-testid': 'bars' });

  // ----- order ticket --------------------------------------------------------------------------
  const summary = h('div', { class: 'form-summary', tabindex: '-1', hidden: true, 'data-testid': 'order-problem' });
  const side = h('select', {}, h('option', { value: 'buy' }, 'Buy'), h('option', { value: 'sell' }, 'Sell'));
  const type = h('select', { 'data-testid': 'order-type' }, h('option', { value: 'limit' }, 'Limit'), h('option', { value: 'market' }, 'Market'));
  const qty = h('input', { type: 'number', min: '1', step: '1', value: '10', inputmode: 'numeric', 'data-testid': 'order-qty' });
  const limit = h('input', { type: 'number', min: '0.01', step: '0.01', inputmode: 'decimal', 'data-testid': 'order-price' });
  const tif = h('select', {},
    h('option', { value: 'gtc' }, 'Good till cancelled'), h('option', { value: 'ioc' }, 'Immediate or cancel'),
    h('option', { value: 'fok' }, 'Fill or kill'), h('option', { value: 'postOnly' }, 'Post only'));
  const submit = h('button', { type: 'submit', class: 'button button-primary', 'data-testid': 'place-order' }, 'Place order');
  const status = h('p', { class: 'form-status', role: 'status', 'aria-live': 'polite', 'data-testid': 'order-status' });
  const priceWrap = field({ name: 'price', label: 'Limit price ($)', input: limit });
  const tifWrap = field({ name: 'timeInForce', label: 'Time in force', input: tif });
  const ticket = h('form', { class: 'form', novalidate: true, 'data-testid': 'order-ticket' },
    summary,
    field({ name: 'side', label: 'Side', input: side }),
    field({ name: 'type', label: 'Type', input: type }),
    field({ name: 'qty', label: 'Shares', input: qty }),
    priceWrap, tifWrap,
    h('div', { class: 'form-actions' }, submit, status));
  type.addEventListener('change', () => {
    const market = type.value === 'market';
    priceWrap.hidden = market;
    tifWrap.hidden = market;
  });

  // ----- yours ---------------------------------------------------------------------------------
  const accountBody = h('div', { 'data-testid': 'account' }, spinner('Loading your account…'));
  const positionsBody = h('div', { 'data-testid': 'positions' });
  const ordersBody = h('div', { 'data-testid': 'orders' });

  root.append(
    card('Market', { testid: 'market', actions: symbolSelect }, quoteHead, h('div', { class: 'two-col' }, ladder, bars)),
    h('div', { class: 'two-col' },
      card('Order ticket', { testid: 'ticket' }, ticket),
      card('Your account', { testid: 'account-card' }, accountBody, positionsBody)),
    card('Your orders', { testid: 'orders-card' }, ordersBody));

  // ----- live market ---------------------------------------------------------------------------
  let myPrices = new Set();
  function showMarket(update) {
    const q = update.quotes.find((x) => x.symbol === symbol);
    if (q) {
      const change = q.changePercent;
      replace(quoteHead,
        h('span', { class: 'last', 'data-testid': 'quote-last' }, price(q.last ?? (q.bid + q.ask) / 2)),
        h('span', { class: Number.isFinite(change) ? (change >= 0 ? 'up' : 'down') : '' }, Number.isFinite(change) ? `${change >= 0 ? '+' : ''}${change.toFixed(2)}%` : ''),
        h('span', {}, `Bid ${price(q.bid)} · Ask ${price(q.ask)}`),
        h('span', { class: 'muted' }, `Volume ${q.volume.toLocaleString()} · previous close ${price(q.previousClose)}`));
    }
    const book = update.book;
    const row = (level, kind) => h('tr', { class: myPrices.has(`${kind}:${level.price.toFixed(2)}`) ? 'mine' : '', 'data-testid': `ladder-${kind}` },
      h('td', { class: ['num', kind === 'ask' ? 'ask' : ''] }, kind === 'ask' ? level.qty.toLocaleString() : ''),
      h('td', { class: ['num', kind] }, level.price.toFixed(2)),
      h('td', { class: ['num', kind === 'bid' ? 'bid' : ''] }, kind === 'bid' ? level.qty.toLocaleString() : ''));
    replace(ladder, h('table', { class: ['data-table', 'compact', 'ladder'] },
      h('caption', { class: 'sr-only' }, `${symbol} order book: offers above, bids below`),
      h('thead', {}, h('tr', {}, h('th', { class: 'num' }, 'Offered'), h('th', { class: 'num' }, 'Price'), h('th', { class: 'num' }, 'Bid'))),
      h('tbody', {}, [...book.asks].reverse().map((l) => row(l, 'ask')), book.bids.map((l) => row(l, 'bid')))));
  }

  async function follow() {
    while (!signal.aborted) {
      const current = symbol;
      const stop = new AbortController();
      const onAbort = () => stop.abort();
      signal.addEventListener('abort', onAbort, { once: true });
      switched = () => stop.abort();
      try {
        await readEventStream(`/api/v1/markets/stream?symbol=${encodeURIComponent(current)}`, (ev) => {
          if (ev.event === 'market' && current === symbol) showMarket(ev.data);
        }, { signal: stop.signal });
      } catch (err) {
        if (err?.name !== 'AbortError') replace(ladder, notice('error', 'The market stream stopped', err.message));
      }
      signal.removeEventListener('abort', onAbort);
      if (!signal.aborted && current === symbol) await new Promise((r) => setTimeout(r, RECONNECT_MS));
    }
  }
  let switched = () => {};

  async function loadBars() {
    try {
      replace(bars, candleChart(await api.candles(symbol)));
    } catch (err) {
      replace(bars, notice('error', 'Could not load the price bars', err.message));
    }
  }

  symbolSelect.addEventListener('change', () => {
    symbol = symbolSelect.value;
    history.replaceState(null, '', `#/trade?symbol=${symbol}`);
    replace(ladder, spinner('Waiting for the market…'));
    switched();
    loadBars();
  });

  // ----- your side -----------------------------------------------------------------------------
  async function loadMine() {
    try {
      const [account, positions, orders] = await Promise.all([api.tradingAccount(), api.positions(), api.orders()]);
      if (signal.aborted) return;
      myPrices = new Set(orders.filter((o) => o.status === 'open' && o.symbol === symbol)
        .map((o) => `${o.side === 'buy' ? 'bid' : 'ask'}:${o.price.toFixed(2)}`));
      replace(accountBody, h('dl', { class: 'facts' },
        ...[['Equity', account.equity], ['Cash', account.cash], ['Buying power', account.buyingPower],
          ['Unrealised', account.unrealised], ['Realised', account.realised], ['Fees paid', account.feesPaid]]
          .map(([label, value]) => h('div', {}, h('dt', {}, label), h('dd', { 'data-testid': `account-${label.toLowerCase().replace(/ /g, '-')}` }, usd(value))))));
      replace(positionsBody, positions.length
        ? h('table', { class: ['data-table', 'compact'], 'data-testid': 'positions-table' },
          h('thead', {}, h('tr', {}, ['Stock', 'Shares', 'Avg cost', 'Price', 'Value', 'P&L'].map((t, i) => h('th', { class: i ? 'num' : '' }, t)))),
          h('tbody', {}, positions.map((p) => h('tr', {},
            h('th', {}, p.symbol), h('td', { class: 'num' }, p.shares.toLocaleString()), h('td', { class: 'num' }, price(p.averageCost)),
            h('td', { class: 'num' }, price(p.marketPrice)), h('td', { class: 'num' }, usd(p.marketValue)),
            h('td', { class: 'num' }, usd(p.unrealised + p.realised))))))
        : h('p', { class: 'muted' }, 'No holdings yet.'));
      replace(ordersBody, orders.length
        ? h('table', { class: ['data-table', 'compact'], 'data-testid': 'orders-table' },
          h('thead', {}, h('tr', {}, ['Time', 'Stock', 'Side', 'Shares', 'Price', 'Filled', 'Avg', 'Status', ''].map((t) => h('th', {}, t)))),
          h('tbody', {}, orders.map((o) => h('tr', { 'data-testid': 'order-row', 'data-status': o.status, 'data-id': o.id },
            h('td', {}, timeOnly(o.createdAt)), h('th', {}, o.symbol), h('td', {}, o.side),
            h('td', { class: 'num' }, o.qty.toLocaleString()), h('td', { class: 'num' }, o.type === 'market' ? 'market' : price(o.price)),
            h('td', { class: 'num' }, o.filled.toLocaleString()), h('td', { class: 'num' }, price(o.averagePrice)),
            h('td', { class: `status-${o.status}`, title: o.reason || '' }, o.reason && o.status !== 'filled' ? `${o.status}: ${o.reason}` : o.status),
            h('td', {}, o.status === 'open' ? h('button', {
              type: 'button', class: 'button button-small button-secondary', 'data-testid': 'cancel-order',
              'aria-label': `Cancel ${o.side} ${o.qty} ${o.symbol}`,
              onClick: async () => {
                try {
                  await api.cancelOrder(o.id);
                  toast('Order cancelled.', 'success');
                } catch (err) {
                  toast(`Could not cancel: ${err.message}`, 'error');
                }
                loadMine();
              },
            }, 'Cancel') : null)))))
        : h('p', { class: 'muted' }, 'No orders yet. Place one with the ticket above.'));
    } catch (err) {
      if (!signal.aborted) replace(accountBody, notice('error', 'Could not load your account', err.message));
    }
  }

  ticket.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearProblem(ticket, summary);
    const body = { symbol, side: side.value, type: type.value, qty: Number(qty.value) };
    if (type.value === 'limit') {
      body.price = limit.value === '' ? null : Number(limit.value);
      body.timeInForce = tif.value;
    }
    submit.disabled = true;
    status.textContent = 'Placing…';
    try {
      const order = await api.placeOrder(body);
      const filled = order.filled ? `, ${order.filled} filled at ${price(order.averagePrice)}` : '';
      status.textContent = `Order ${order.status}${filled}.`;
    } catch (err) {
      status.textContent = '';
      showProblem(ticket, summary, err);
    } finally {
      submit.disabled = false;
      loadMine();
    }
  });

  signal.addEventListener('abort', hub.subscribe((ev) => {
    if (ev.type === EVENT_TYPES.orderUpdated) loadMine();
  }));
  const barTimer = setInterval(loadBars, BAR_REFRESH_MS);
  signal.addEventListener('abort', () => clearInterval(barTimer));
  loadBars();
  loadMine();
  follow();
}
