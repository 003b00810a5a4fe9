// Miyagi's web UI: the hash router, the shell (navigation, connection indicator, toasts) and the
// wiring of pages to the API client and the live event stream. No build step: plain ES modules
// served from /assets/.

import { api, ApiError, request, postEventStream, SseParser } from './api.js';
import { credential, signOut } from './credentials.js';
import { hub } from './events.js';
import * as signin from './signin.js';
import { h, replace, notice } from './dom.js';
import * as dashboard from './dashboard.js';
import * as profile from './profile.js';
import * as personalize from './personalize.js';
import * as documents from './documents.js';
import * as chat from './chat.js';
import * as trade from './trade.js';
import * as spending from './spending.js';
import * as agents from './agents.js';
import * as images from './images.js';
import * as system from './system.js';

// The API client, for anyone importing the app.
export { api, ApiError, request, postEventStream, SseParser };

const ROUTES = {
  dashboard: { title: 'Dashboard', page: dashboard },
  profile: { title: 'Profile', page: profile },
  personalize: { title: 'Personalize', page: personalize },
  chat: { title: 'Chat', page: chat },
  trade: { title: 'Trade', page: trade },
  spending: { title: 'Spending', page: spending },
  agents: { title: 'Agents', page: agents },
  images: { title: 'Images', page: images },
  documents: { title: 'Documents', page: documents },
  system: { title: 'System', page: system },
};
const DEFAULT_ROUTE = 'dashboard';

/** `#/documents?x=1` → `{name: 'documents', params}`; anything else → null. */
function parseHash(hash) {
  if (!hash || hash === '#' || hash === '#/') return { name: DEFAULT_ROUTE, params: new URLSearchParams() };
  if (!hash.startsWith('#/')) return null;
  const [path, query = ''] = hash.slice(2).split('?');
  return { name: path.split('/')[0] || DEFAULT_ROUTE, params: new URLSearchParams(query) };
}

/** Shows a short message at the bottom of the screen (and to screen readers). */
export function toast(message, kind = 'info') {
  const region = document.querySelector('.toast-region');
  if (!region) return;
  const item = h('div', { class: ['toast', `toast-${kind}`] }, message);
  region.append(item);
  setTimeout(() => item.classList.add('toast-out'), 4500);
  setTimeout(() => item.remove(), 5000);
}

let current = null; // { controller, name }
let firstRender = true;

function render() {
  const route = parseHash(location.hash);
  if (!route) return; // an in-page anchor; not a route
  const main = document.getElementById('main');
  const entry = ROUTES[route.name];

  if (current) current.controller.abort();
  const controller = new AbortController();
  current = { controller, name: route.name };

  for (const link of document.querySelectorAll('.mainnav a[data-route]')) {
    if (link.dataset.route === route.name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }

  replace(main);
  main.dataset.page = route.name;
  if (!entry) {
    document.title = 'Not found · Miyagi';
    main.append(
      h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, 'Page not found')),
      notice('info', `There is no page called “${route.name}”.`, h('p', {}, h('a', { href: '#/dashboard' }, 'Go to the dashboard'))),
    );
    return;
  }
  document.title = `${entry.title} · Miyagi`;
  const ctx = {
    params: route.params,
    signal: controller.signal,
    navigate: (hash) => {
      location.hash = hash;
    },
    /** Renders the current page again (e.g. a "Try again" button). */
    reload: () => render(),
    toast,
    hub,
    api,
  };
  Promise.resolve()
    .then(() => entry.page.render(main, ctx))
    .catch((err) => {
      if (controller.signal.aborted) return;
      console.error(err);
      main.append(notice('error', 'This page failed to load', err?.message || String(err)));
    })
    .finally(() => {
      // Move focus to the new page's heading so keyboard and screen-reader users land there.
      if (!firstRender && !controller.signal.aborted) {
        const heading = main.querySelector('h1');
        if (heading && !main.contains(document.activeElement)) {
          heading.setAttribute('tabindex', '-1');
          heading.focus({ preventScroll: false });
        }
      }
      firstRender = false;
    });
}

const STATUS_LABELS = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  offline: 'Offline (retrying)',
};

function startShell() {
  const conn = document.querySelector('[data-testid="connection"]');
  hub.onStatus((status) => {
    if (!conn) return;
    conn.dataset.status = status;
    conn.querySelector('.conn-label').textContent = STATUS_LABELS[status] || status;
    conn.title = status === 'live' ? 'Receiving live events' : 'Live events are not connected';
  });
  const skip = document.querySelector('[data-skip]');
  skip?.addEventListener('click', (e) => {
    e.preventDefault();
    document.getElementById('main')?.focus();
  });
  window.addEventListener('hashchange', render);
  // Any refused call means the credential is missing or no longer good: ask for one, once.
  window.addEventListener('miyagi:unauthorized', (e) => {
    const main = document.getElementById('main');
    if (main.dataset.page === 'signin') return;
    if (current) current.controller.abort();
    current = null;
    main.dataset.page = 'signin';
    document.title = 'Sign in · Miyagi';
    signin.render(main, { problem: e.detail, onSignedIn: () => { updateSignOut(); render(); toast('Signed in'); } });
  });
  const signOutButton = document.querySelector('[data-testid="sign-out"]');
  const updateSignOut = () => { if (signOutButton) signOutButton.hidden = !credential(); };
  signOutButton?.addEventListener('click', () => {
    signOut();
    location.reload();
  });
  updateSignOut();
  if (!parseHash(location.hash)) history.replaceState(null, '', `#/${DEFAULT_ROUTE}`);
  render();
  hub.start();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', startShell);
else startShell();
