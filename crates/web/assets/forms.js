// Showing RFC 7807 problems on forms: the title and detail at the top, each field's message next
// to the input it names. Inputs carry `data-field` with the API's field path (e.g. `age`,
// `userInfo.favoriteAdvisor`, `stocks[1].symbol`) and their error paragraph has the id
// `<input id>-err`. Also the two-step button every irreversible action uses.

import { h, replace } from './dom.js';

const camel = (s) => s.replace(/_([a-z])/g, (_, c) => c.toUpperCase());

/** The candidate `data-field` values for an API field path, most specific first. */
export function fieldKey(path, message = '') {
  let p = String(path || '').trim().replace(/^\$\.?/, '').replace(/^\//, '').replace(/\//g, '.');
  const missing = /missing field `([^`]+)`/.exec(message);
  if (p === '(body)' || p === '.' || p === '' || p === '__all__') {
    if (!missing) return [];
    p = missing[1];
  } else if (missing) {
    p = `${p}.${missing[1]}`;
  }
  p = p.split('.').map(camel).join('.');
  const out = [];
  let cur = p;
  while (cur) {
    out.push(cur);
    const cut = Math.max(cur.lastIndexOf('.'), cur.lastIndexOf('['));
    if (cut <= 0) break;
    cur = cur.slice(0, cut);
  }
  return out;
}

function controlFor(form, path, message) {
  for (const key of fieldKey(path, message)) {
    const el = form.querySelector(`[data-field="${CSS.escape(key)}"]`);
    if (el) return el;
  }
  return null;
}

export function clearProblem(form, summary) {
  for (const el of form.querySelectorAll('[aria-invalid="true"]')) el.removeAttribute('aria-invalid');
  for (const el of form.querySelectorAll('.field-error')) {
    el.textContent = '';
    el.hidden = true;
  }
  for (const el of form.querySelectorAll('.has-error')) el.classList.remove('has-error');
  if (summary) {
    replace(summary);
    summary.hidden = true;
  }
}

/**
 * Shows `err` (an ApiError or any Error) on `form`. `extras[status]` is an element to add to the
 * summary for that status (e.g. a reload button on 412). Answers how many fields were marked.
 */
export function showProblem(form, summary, err, extras = {}) {
  clearProblem(form, summary);
  const errors = Array.isArray(err?.errors) ? err.errors : [];
  const items = [];
  let marked = 0;
  let first = null;
  for (const e of errors) {
    const control = controlFor(form, e.field, e.message);
    if (control) {
      control.setAttribute('aria-invalid', 'true');
      control.closest('.field, .row-field')?.classList.add('has-error');
      const msg = document.getElementById(`${control.id}-err`);
      if (msg) {
        msg.textContent = msg.textContent ? `${msg.textContent}; ${e.message}` : e.message;
        msg.hidden = false;
      }
      marked += 1;
      first = first || control;
      const label = form.querySelector(`label[for="${CSS.escape(control.id)}"]`)?.textContent || e.field;
      items.push(h('li', {}, h('button', { type: 'button', class: 'linklike', onClick: () => control.focus() }, `${label}: ${e.message}`)));
    } else {
      items.push(h('li', {}, `${e.field ? `${e.field}: ` : ''}${e.message}`));
    }
  }
  if (summary) {
    const title = err?.title || 'Something went wrong';
    // The detail repeats the field messages for validation problems; show it only otherwise.
    const detail = errors.length ? '' : err?.detail || (err?.title ? '' : err?.message || '');
    replace(
      summary,
      h('p', { class: 'form-summary-title', 'data-testid': 'problem-title' }, title),
      detail ? h('p', { 'data-testid': 'problem-detail' }, detail) : null,
      marked ? h('p', {}, marked === 1 ? 'Please correct the field marked below.' : 'Please correct the fields marked below.') : null,
      items.length ? h('ul', {}, items) : null,
      extras[err?.status] || null,
    );
    summary.hidden = false;
    summary.setAttribute('role', 'alert');
    summary.focus({ preventScroll: false });
  } else if (first) {
    first.focus();
  }
  return marked;
}

/**
 * A button for what cannot be undone: the first click asks (its label turns to `confirmLabel`
 * for 5 s), the second runs `action`. While it runs the button is disabled; if it fails, the
 * button comes back and `onError` is told.
 */
export function confirmButton({ label, confirmLabel, aria, confirmAria, testid, action, onError }) {
  const button = h('button', { type: 'button', class: 'button button-small button-danger-outline', 'aria-label': aria, 'data-testid': testid }, label);
  let confirming = false;
  const reset = () => {
    confirming = false;
    button.textContent = label;
    button.setAttribute('aria-label', aria);
    button.classList.remove('button-danger');
  };
  button.addEventListener('click', async () => {
    if (!confirming) {
      confirming = true;
      button.textContent = confirmLabel;
      button.setAttribute('aria-label', confirmAria);
      button.classList.add('button-danger');
      setTimeout(() => { if (button.isConnected && confirming && !button.disabled) reset(); }, 5000);
      return;
    }
    button.disabled = true;
    try {
      await action();
    } catch (err) {
      button.disabled = false;
      reset();
      onError(err);
    }
  });
  return button;
}
