// Documents: upload (ingested in the background), watch them become indexed, delete, and search
// them with citations.

import { api } from './api.js';
import { EVENT_TYPES } from './events.js';
import { h, replace, card, notice, spinner, bytes, dateTime, num } from './dom.js';
import { showProblem, clearProblem, confirmButton } from './forms.js';
import { field } from './profile.js';

const POLL_MS = 2000;
const POLL_LIMIT_MS = 10 * 60 * 1000;

export async function render(root, ctx) {
  const { signal, hub, toast } = ctx;
  root.append(h('div', { class: 'page-head' },
    h('div', {}, h('h1', {}, 'Documents'),
      h('p', { class: 'lede' }, 'Give Miyagi your notes and statements; they are indexed in the background and searchable with citations.'))));

  // ----- upload --------------------------------------------------------------------------------
  const uploadSummary = h('div', { class: 'form-summary', tabindex: '-1', hidden: true, 'data-testid': 'upload-problem' });
  const fileInput = h('input', { type: 'file', multiple: true, accept: '.md,.markdown,.txt,.text,.pdf,.html,.htm,text/markdown,text/plain,application/pdf,text/html', 'data-testid': 'file-input' });
  const collectionInput = h('input', { type: 'text', placeholder: 'default', pattern: '[a-z0-9_-]{1,64}', autocomplete: 'off', 'data-testid': 'collection-input' });
  const uploadButton = h('button', { type: 'submit', class: 'button button-primary', 'data-testid': 'upload-button' }, 'Upload');
  const uploadStatus = h('p', { class: 'form-status', role: 'status', 'aria-live': 'polite', 'data-testid': 'upload-status' });
  const uploadForm = h('form', { class: 'form', novalidate: true, 'data-testid': 'upload-form' },
    uploadSummary,
    field({ name: 'file', label: 'Files', input: fileInput, hint: 'Markdown, text, HTML or PDF; up to 10 at once.' }),
    field({ name: 'collection', label: 'Collection (optional)', input: collectionInput, hint: 'Lower-case letters, digits, “-” and “_”; “default” when blank.' }),
    h('div', { class: 'form-actions' }, uploadButton, uploadStatus));

  // ----- list ----------------------------------------------------------------------------------
  const listBody = h('div', {}, spinner('Loading documents…'));
  const refreshButton = h('button', { type: 'button', class: 'button button-small button-secondary', 'data-testid': 'refresh-documents' }, 'Refresh');
  const listStatus = h('p', { class: 'sr-only', role: 'status', 'aria-live': 'polite' });

  // ----- search --------------------------------------------------------------------------------
  const searchSummary = h('div', { class: 'form-summary', tabindex: '-1', hidden: true });
  const queryInput = h('input', { type: 'search', autocomplete: 'off', 'data-testid': 'search-input' });
  const limitInput = h('input', { type: 'number', min: '1', max: '50', value: '5', inputmode: 'numeric' });
  const searchButton = h('button', { type: 'submit', class: 'button', 'data-testid': 'search-button' }, 'Search');
  const results = h('div', { class: 'search-results', 'data-testid': 'search-results', 'aria-live': 'polite' });
  const searchForm = h('form', { class: 'form form-inline', novalidate: true, role: 'search', 'data-testid': 'search-form' },
    searchSummary,
    h('div', { class: 'search-row' },
      h('div', { class: 'grow' }, field({ name: 'query', label: 'Search your documents', input: queryInput })),
      field({ name: 'limit', label: 'Results', input: limitInput }),
      h('div', { class: 'search-submit' }, searchButton)));

  root.append(h('div', { class: 'two-col' },
    card('Upload', { class: 'card-upload', testid: 'upload' }, uploadForm),
    card('Search', { class: 'card-search', testid: 'search' }, searchForm, results)),
  card('Your documents', { testid: 'documents', actions: refreshButton }, listBody, listStatus));

  let docs = [];
  let pollTimer = null;
  let pollStarted = 0;
  const watching = new Map(); // id → name of uploads we announce when they finish
  const lastStatus = new Map();

  function renderList() {
    if (!docs.length) {
      replace(listBody, h('p', { class: 'muted' }, 'No documents yet. Upload one above.'));
      return;
    }
    const table = h('table', { class: 'data-table', 'data-testid': 'documents-table' },
      h('caption', { class: 'sr-only' }, 'Your documents and their ingestion status'),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Collection'), h('th', { scope: 'col' }, 'Status'),
        h('th', { scope: 'col', class: 'num' }, 'Size'), h('th', { scope: 'col', class: 'num' }, 'Chunks'),
        h('th', { scope: 'col' }, 'Updated'), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')))),
      h('tbody', {}, docs.map((d) => {
        const del = confirmButton({
          label: 'Delete', confirmLabel: 'Confirm delete', testid: 'delete-document',
          aria: `Delete ${d.name}`, confirmAria: `Confirm: delete ${d.name}`,
          action: async () => {
            await api.deleteDocument(d.id);
            toast(`Deleted ${d.name}.`, 'success');
            await load();
          },
          onError: (err) => toast(`Could not delete ${d.name}: ${err.message}`, 'error'),
        });
        const status = String(d.status || 'unknown');
        let retry = null;
        if (status === 'failed') {
          retry = h('button', { type: 'button', class: 'button button-small', 'aria-label': `Retry ingesting ${d.name}`, 'data-testid': 'retry-document' }, 'Retry');
          retry.addEventListener('click', async () => {
            retry.disabled = true;
            try {
              await api.retryDocument(d.id);
              watching.add(d.id);
              lastStatus.set(d.id, 'pending');
              const msg = `${d.name} is queued for ingestion again.`;
              uploadStatus.textContent = msg;
              toast(msg, 'info');
              await load();
            } catch (err) {
              retry.disabled = false;
              toast(`Could not retry ${d.name}: ${err.message}`, 'error');
            }
          });
        }
        return h('tr', { 'data-testid': 'doc-row', 'data-id': d.id, 'data-name': d.name, 'data-status': status },
          h('th', { scope: 'row', class: 'doc-name' }, d.name || '(unnamed)', d.version > 1 ? h('span', { class: 'muted small' }, ` v${d.version}`) : null),
          h('td', {}, d.collection || '—'),
          h('td', {}, h('span', { class: ['badge', `badge-${status}`] }, status === 'pending' ? h('span', { class: 'spinner spinner-inline', 'aria-hidden': 'true' }) : null, status),
            d.error ? h('p', { class: 'small error-text' }, d.error) : null),
          h('td', { class: 'num' }, bytes(d.sizeBytes)),
          h('td', { class: 'num' }, status === 'indexed' ? num(d.chunkCount, 0) : '—'),
          h('td', {}, dateTime(d.updatedAt)),
          h('td', { class: 'actions' }, retry, del));
      })));
    replace(listBody, h('div', { class: 'table-scroll' }, table));
  }

  async function load() {
    try {
      const list = (await api.documents()) || [];
      if (signal.aborted) return;
      docs = list;
      for (const d of docs) {
        const before = lastStatus.get(d.id);
        if (watching.has(d.id) && d.status !== 'pending' && before !== d.status) {
          const msg = d.status === 'indexed' ? `${d.name} is indexed and searchable.` : `${d.name} could not be indexed${d.error ? `: ${d.error}` : ''}.`;
          listStatus.textContent = msg;
          uploadStatus.textContent = msg;
          toast(msg, d.status === 'indexed' ? 'success' : 'error');
          watching.delete(d.id);
        }
        lastStatus.set(d.id, d.status);
      }
      renderList();
      schedulePoll();
    } catch (err) {
      if (!signal.aborted) {
        replace(listBody, notice('error', 'Could not load documents', err.message));
        schedulePoll();
      }
    }
  }

  function schedulePoll() {
    clearTimeout(pollTimer);
    if (signal.aborted) return;
    const pending = docs.some((d) => d.status === 'pending') || watching.size > 0;
    if (!pending) {
      pollStarted = 0;
      return;
    }
    if (!pollStarted) pollStarted = Date.now();
    if (Date.now() - pollStarted > POLL_LIMIT_MS) return;
    pollTimer = setTimeout(load, POLL_MS);
  }

  let eventTimer = null;
  const unsubscribe = hub.subscribe((ev) => {
    if (![EVENT_TYPES.documentUploaded, EVENT_TYPES.documentIndexed, EVENT_TYPES.documentFailed, EVENT_TYPES.documentDeleted].includes(ev.type)) return;
    clearTimeout(eventTimer);
    eventTimer = setTimeout(load, 150); // a batch of events, one reload
  });
  signal.addEventListener('abort', () => {
    unsubscribe();
    clearTimeout(pollTimer);
    clearTimeout(eventTimer);
  });
  refreshButton.addEventListener('click', () => load());

  uploadForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearProblem(uploadForm, uploadSummary);
    const files = [...(fileInput.files || [])];
    if (!files.length) {
      showProblem(uploadForm, uploadSummary, { title: 'Choose a file to upload', errors: [{ field: 'file', message: 'choose at least one file' }] });
      return;
    }
    const form = new FormData();
    const collection = collectionInput.value.trim();
    if (collection) form.append('collection', collection);
    for (const f of files) form.append('file', f, f.name);
    uploadButton.disabled = true;
    uploadForm.setAttribute('aria-busy', 'true');
    uploadStatus.textContent = `Uploading ${files.length === 1 ? files[0].name : `${files.length} files`}…`;
    try {
      const stored = (await api.upload(form)) || [];
      if (signal.aborted) return;
      for (const d of Array.isArray(stored) ? stored : [stored]) {
        if (d?.id) watching.set(d.id, d.name);
      }
      uploadStatus.textContent = `Uploaded ${stored.map((d) => d.name).join(', ')}; indexing in the background…`;
      fileInput.value = '';
      await load();
    } catch (err) {
      if (signal.aborted) return;
      uploadStatus.textContent = '';
      showProblem(uploadForm, uploadSummary, err);
    } finally {
      uploadButton.disabled = false;
      uploadForm.removeAttribute('aria-busy');
    }
  });

  searchForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearProblem(searchForm, searchSummary);
    const query = queryInput.value.trim();
    const limit = Number(limitInput.value) || 5;
    if (!query) {
      showProblem(searchForm, searchSummary, { title: 'Type something to search for', errors: [{ field: 'query', message: 'must not be empty' }] });
      return;
    }
    searchButton.disabled = true;
    results.setAttribute('aria-busy', 'true');
    replace(results, spinner('Searching…'));
    try {
      const answer = await api.search(query, limit);
      if (signal.aborted) return;
      const found = Array.isArray(answer?.results) ? answer.results : [];
      if (!found.length) {
        replace(results, h('p', { class: 'muted', 'data-testid': 'no-results' }, `Nothing found for “${query}”.`));
        return;
      }
      replace(results,
        h('p', { class: 'muted small' }, `${found.length} passage${found.length === 1 ? '' : 's'} for “${query}”`),
        h('ol', { class: 'result-list' }, found.map((r) => h('li', { class: 'search-result', 'data-testid': 'search-result' },
          h('div', { class: 'result-head' },
            h('cite', {}, r.citation?.documentName || 'Unnamed document'),
            r.section ? h('span', { class: 'muted small' }, ` · ${r.section}`) : null,
            h('span', { class: 'badge badge-neutral', title: 'Cosine similarity to your query' }, `relevance ${num(r.relevance)}`)),
          r.citation?.snippet ? h('blockquote', {}, r.citation.snippet) : null,
          r.text && r.text !== r.citation?.snippet ? h('details', {}, h('summary', {}, 'Whole passage'), h('p', { class: 'passage' }, r.text)) : null))));
    } catch (err) {
      if (signal.aborted) return;
      replace(results);
      showProblem(searchForm, searchSummary, err);
    } finally {
      searchButton.disabled = false;
      results.setAttribute('aria-busy', 'false');
    }
  });

  await load();
}


