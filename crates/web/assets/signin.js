// The sign-in page, shown when the server refuses a call (auth modes `api_key` and `jwt`): the
// person gives an API key or a bearer token, which is tried on the API before it is kept, so a
// wrong one is said so here rather than by every page after.

import { request } from './api.js';
import { signIn, signOut } from './credentials.js';
import { h, replace, card } from './dom.js';
import { field } from './profile.js';

export function render(root, { problem, onSignedIn }) {
  const kind = h('select', {},
    h('option', { value: 'api_key' }, 'API key'),
    h('option', { value: 'bearer' }, 'Bearer token (JWT)'));
  const secret = h('input', { type: 'password', autocomplete: 'off', required: true, 'data-testid': 'signin-secret' });
  const status = h('p', { class: 'field-error', role: 'alert', hidden: true, 'data-testid': 'signin-error' });
  const submit = h('button', { type: 'submit', class: 'button', 'data-testid': 'signin-submit' }, 'Sign in');
  const form = h('form', { class: 'form', 'data-testid': 'signin', novalidate: true },
    field({ name: 'kind', label: 'Sign in with', input: kind }),
    field({ name: 'secret', label: 'Your key or token', input: secret,
      hint: 'Kept in this tab only, and sent with each request to this server.' }),
    status,
    h('div', { class: 'form-actions' }, submit));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const value = secret.value.trim();
    status.hidden = true;
    if (!value) {
      status.textContent = 'Enter your API key or token.';
      status.hidden = false;
      return;
    }
    submit.disabled = true;
    signIn(kind.value, value);
    try {
      // An authenticated read: a refused key answers 401 here, not on the next page.
      await request('GET', '/api/v1/system', { headers: {} });
      onSignedIn();
    } catch (err) {
      signOut();
      status.textContent = err?.status === 401
        ? 'That key or token was refused. Check it and try again.'
        : `Could not check it: ${err?.message || err}`;
      status.hidden = false;
      submit.disabled = false;
    }
  });

  replace(root,
    h('div', { class: 'page-head' },
      h('div', {}, h('h1', { tabindex: '-1' }, 'Sign in'),
        h('p', { class: 'lede' }, problem?.detail
          ? `This Miyagi asks who you are (${problem.detail}).`
          : 'This Miyagi asks who you are.'))),
    card('Your credentials', { testid: 'signin-card' }, form));
  secret.focus();
}
