// The API client: relative URLs, the signed-in credential on every call, RFC 7807 problems
// turned into `ApiError`s, and server-sent events read from a fetch body (EventSource can neither
// POST nor send a credential header).

import { authHeaders, unauthorized } from './credentials.js';

/** An error answer. `problem` is the RFC 7807 body when the server sent one. */
export class ApiError extends Error {
  constructor(status, problem, fallback) {
    const title = problem?.title || fallback || `HTTP ${status}`;
    super(problem?.detail ? `${title}: ${problem.detail}` : title);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem || null;
    this.title = title;
    this.detail = problem?.detail || '';
    /** `[{field, message}]`: which fields were wrong. */
    this.errors = Array.isArray(problem?.errors) ? problem.errors : [];
  }
}

/** A network failure (server down, connection refused): status 0. */
function networkError(err) {
  const e = new ApiError(0, {
    title: 'Cannot reach the Miyagi server',
    detail: err?.message || 'the request did not complete',
  });
  e.cause = err;
  return e;
}

async function readProblem(response, what = '') {
  const type = response.headers.get('content-type') || '';
  const title = response.statusText || `HTTP ${response.status}`;
  const where = what ? `${what} answered ${response.status}` : `the server answered ${response.status}`;
  try {
    if (type.includes('json')) return await response.json();
    // Not a problem document (a proxy's or another server's error page): say where it came from.
    const text = type.includes('html') ? '' : (await response.text()).trim();
    return { title, detail: text ? `${where}: ${text.slice(0, 300)}` : `${where}; is this the Miyagi server?` };
  } catch {
    return { title, detail: where };
  }
}

/**
 * One request. `body` is sent as JSON unless it is FormData. Answers the parsed JSON (or
 * `null` for 204 / empty bodies); throws `ApiError` for non-2xx answers.
 */
export async function request(method, url, { body, headers = {}, signal, raw = false } = {}) {
  const init = {
    method,
    credentials: 'same-origin',
    headers: { accept: 'application/json', ...authHeaders(), ...headers },
    signal,
  };
  if (body instanceof FormData || body instanceof Blob) {
    init.body = body;
  } else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['content-type'] = 'application/json';
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (err) {
    if (err?.name === 'AbortError') throw err;
    throw networkError(err);
  }
  if (raw) return response;
  if (!response.ok) {
    const problem = await readProblem(response, `${method} ${url.split('?')[0]}`);
    if (response.status === 401) unauthorized(problem);
    throw new ApiError(response.status, problem, response.statusText);
  }
  if (response.status === 204) return null;
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(response.status, { title: 'Unreadable answer', detail: 'the server did not answer JSON' });
  }
}

export const api = {
  get: (url, opts) => request('GET', url, opts),
  post: (url, body, opts) => request('POST', url, { ...opts, body }),
  put: (url, body, opts) => request('PUT', url, { ...opts, body }),
  del: (url, opts) => request('DELETE', url, opts),

  // users
  profiles: () => request('GET', '/api/v1/userprofile?limit=200'),
  profile: (id) => request('GET', `/api/v1/userprofile/${encodeURIComponent(id)}`),
  createProfile: (input) => request('POST', '/api/v1/userprofile', { body: input }),
  updateProfile: (id, input, version) =>
    request('PUT', `/api/v1/userprofile/${encodeURIComponent(id)}`, {
      body: input,
      headers: version !== undefined && version !== null ? { 'if-match': `"${version}"` } : {},
    }),
  deleteProfile: (id) => request('DELETE', `/api/v1/userprofile/${encodeURIComponent(id)}`),
  deleteAccount: () => request('DELETE', '/api/v1/account'),

  // advisor
  latestAdvice: async (userId) => {
    const list = await request('GET', `/api/v1/advice?userId=${encodeURIComponent(userId)}&limit=1`);
    return Array.isArray(list) && list.length ? list[0] : null;
  },
  personalize: (body, opts) => request('POST', '/api/v1/personalize', { ...opts, body }),

  // images
  imageModel: () => request('GET', '/api/v1/images/model'),
  images: ({ attachedTo } = {}) => request('GET', attachedTo
    ? `/api/v1/images?attachedTo=${encodeURIComponent(attachedTo)}`
    : '/api/v1/images'),
  requestImage: (body) => request('POST', '/api/v1/images', { body }),
  deleteImage: (id) => request('DELETE', `/api/v1/images/${encodeURIComponent(id)}`),

  // documents
  documents: () => request('GET', '/api/v1/documents?limit=200'),
  upload: (form) => request('POST', '/api/v1/documents', { body: form }),
  deleteDocument: (id) => request('DELETE', `/api/v1/documents/${encodeURIComponent(id)}`),
  retryDocument: (id) => request('POST', `/api/v1/documents/${encodeURIComponent(id)}/retry`),
  search: (query, limit) => request('POST', '/api/v1/documents/search', { body: { query, limit } }),

  // copilot
  chats: () => request('GET', '/api/v1/chats?limit=200'),
  chat: (id) => request('GET', `/api/v1/chats/${encodeURIComponent(id)}`),
  createChat: (body) => request('POST', '/api/v1/chats', { body }),
  updateChat: (id, body) => request('PATCH', `/api/v1/chats/${encodeURIComponent(id)}`, { body }),
  deleteChat: (id) => request('DELETE', `/api/v1/chats/${encodeURIComponent(id)}`),
  chatMessages: (id, before) =>
    request('GET', `/api/v1/chats/${encodeURIComponent(id)}/messages?limit=50${before ? `&before=${before}` : ''}`),
  chatPrompt: (id, question) =>
    request('GET', `/api/v1/chats/${encodeURIComponent(id)}/prompt?question=${encodeURIComponent(question)}`),
  exportChat: (id) => request('GET', `/api/v1/chats/${encodeURIComponent(id)}/export`),
  memories: () => request('GET', '/api/v1/memories'),
  updateMemory: (id, body) => request('PATCH', `/api/v1/memories/${encodeURIComponent(id)}`, { body }),
  deleteMemory: (id) => request('DELETE', `/api/v1/memories/${encodeURIComponent(id)}`),

  // markets and paper trading
  quotes: () => request('GET', '/api/v1/markets/quotes'),
  book: (symbol) => request('GET', `/api/v1/markets/book/${encodeURIComponent(symbol)}`),
  candles: (symbol, interval = '1m', limit = 60) =>
    request('GET', `/api/v1/markets/candles/${encodeURIComponent(symbol)}?interval=${interval}&limit=${limit}`),
  orders: (limit = 50) => request('GET', `/api/v1/orders?limit=${limit}`),
  placeOrder: (body) => request('POST', '/api/v1/orders', { body }),
  cancelOrder: (id) => request('DELETE', `/api/v1/orders/${encodeURIComponent(id)}`),
  replaceOrder: (id, body) => request('PATCH', `/api/v1/orders/${encodeURIComponent(id)}`, { body }),
  positions: () => request('GET', '/api/v1/positions'),
  // expenses
  expenseCategories: () => request('GET', '/api/v1/expenses/categories'),
  importFile: (file, account) => request('POST', `/api/v1/expenses/imports?account=${encodeURIComponent(account || 'checking')}`,
    { body: file, headers: { 'content-type': 'text/csv' } }),
  expenseImport: (id) => request('GET', `/api/v1/expenses/imports/${encodeURIComponent(id)}`),
  generateTransactions: (months = 6) => request('POST', `/api/v1/expenses/transactions/generate?months=${months}`),
  transactions: (limit = 200) => request('GET', `/api/v1/expenses/transactions?limit=${limit}`),
  recategorise: (id, category) => request('PATCH', `/api/v1/expenses/transactions/${encodeURIComponent(id)}`, { body: { category } }),
  spendingSummary: (months = 6) => request('GET', `/api/v1/expenses/summary?months=${months}`),
  budgets: () => request('GET', '/api/v1/expenses/budgets'),
  setBudget: (category, monthlyLimit) => request('PUT', `/api/v1/expenses/budgets/${encodeURIComponent(category)}`, { body: { monthlyLimit } }),
  spendingInsights: () => request('GET', '/api/v1/expenses/insights'),
  askSpending: (question) => request('POST', '/api/v1/expenses/questions', { body: { question } }),
  // agents
  proposePlan: (goal) => request('POST', '/api/v1/agents/plans', { body: { goal } }),
  startRun: (body) => request('POST', '/api/v1/runs', { body }),
  runs: () => request('GET', '/api/v1/runs?limit=20'),
  cancelRun: (id) => request('POST', `/api/v1/runs/${encodeURIComponent(id)}/cancel`),
  decide: (id, decision) => request('POST', `/api/v1/runs/${encodeURIComponent(id)}/approvals`, { body: decision }),
  tradingAccount: () => request('GET', '/api/v1/account'),

  // system
  system: () => request('GET', '/api/v1/system'),
  models: () => request('GET', '/v1/models'),
  /** `/readyz` answers 503 with a problem when a check fails: both are answers here. */
  readiness: async () => {
    const response = await request('GET', '/readyz', { raw: true });
    const body = response.ok || (response.headers.get('content-type') || '').includes('json')
      ? await response.json().catch(() => null)
      : await readProblem(response, 'GET /readyz');
    return { ok: response.ok, status: response.status, body };
  },
};

// ---------------------------------------------------------------------------------------------
// Server-sent events over fetch

/**
 * Incremental SSE parser (the WHATWG event-stream format): feed it text as it arrives, it calls
 * `onEvent({event, data, id})` for each complete event. Comment lines (keep-alives) are ignored.
 */
export class SseParser {
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.buffer = '';
    this.reset();
  }

  reset() {
    this.event = '';
    this.data = [];
    this.id = '';
  }

  feed(text) {
    this.buffer += text;
    // Lines end with \r\n, \n or \r; keep a trailing \r in the buffer (its \n may follow).
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const c = this.buffer[i];
      if (c !== '\n' && c !== '\r') continue;
      if (c === '\r' && i === this.buffer.length - 1) break;
      this.line(this.buffer.slice(start, i));
      if (c === '\r' && this.buffer[i + 1] === '\n') i++;
      start = i + 1;
    }
    this.buffer = this.buffer.slice(start);
  }

  /** Forgets any partial event (the stream is over). */
  end() {
    this.buffer = '';
    this.reset();
  }

  line(line) {
    if (line === '') {
      if (this.data.length) {
        this.onEvent({ event: this.event || 'message', data: this.data.join('\n'), id: this.id });
      }
      this.reset();
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id') this.id = value;
  }
}

/**
 * Reads the SSE endpoint `url` (POSTing `body` as JSON when given) and calls `onEvent` for each
 * event until the stream ends; `onOpen` once the server has accepted it. Answers the Response
 * (already consumed) so callers can tell a 404 from a stream. A non-2xx answer or a body that
 * is not `text/event-stream` throws `ApiError`.
 */
export async function readEventStream(url, onEvent, { body, signal, onOpen } = {}) {
  const post = body !== undefined;
  let response;
  try {
    response = await fetch(url, {
      method: post ? 'POST' : 'GET',
      credentials: 'same-origin',
      headers: {
        accept: 'text/event-stream',
        ...authHeaders(),
        ...(post ? { 'content-type': 'application/json' } : {}),
      },
      body: post ? JSON.stringify(body) : undefined,
      signal,
    });
  } catch (err) {
    if (err?.name === 'AbortError') throw err;
    throw networkError(err);
  }
  if (!response.ok) {
    const problem = await readProblem(response, `${post ? 'POST' : 'GET'} ${url}`);
    if (response.status === 401) unauthorized(problem);
    throw new ApiError(response.status, problem, response.statusText);
  }
  const type = response.headers.get('content-type') || '';
  if (!type.includes('text/event-stream') || !response.body) {
    throw new ApiError(response.status, { title: 'Unexpected answer', detail: `expected an event stream, got ${type || 'no content type'}` });
  }
  onOpen?.();
  const parser = new SseParser((ev) => {
    let data = ev.data;
    try {
      data = JSON.parse(ev.data);
    } catch {
      /* leave as text */
    }
    onEvent({ event: ev.event, data, id: ev.id });
  });
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
    }
    parser.feed(decoder.decode());
    parser.feed('\n\n'); // a server that omits the last blank line still gets its event delivered
  } finally {
    parser.end();
    reader.releaseLock();
  }
  return response;
}

/** POSTs `body` as JSON to an SSE endpoint: readEventStream for a request with a body. */
export function postEventStream(url, body, onEvent, { signal } = {}) {
  return readEventStream(url, onEvent, { body, signal });
}
