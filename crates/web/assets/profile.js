// Profile: list, create, edit and delete profiles, or delete all of one's data. The server validates; its problem+json
// answer's field errors are shown next to the inputs they name.

import { api } from './api.js';
import { h, replace, card, notice, spinner, uid, money, dateTime } from './dom.js';
import { getProfileId, setProfileId } from './state.js';
import { showProblem, clearProblem, confirmButton } from './forms.js';

export const ADVISORS = ['Warren Buffett', 'Jack Bogle', 'Peter Lynch', 'Ray Dalio', 'Benjamin Graham', 'Burton Malkiel'];
export const RISKS = ['Conservative', 'Moderate', 'Aggressive'];

/** A labelled input with a hint and an (initially hidden) error, wired for assistive tech. */
export function field({ name, label, type = 'text', hint, input, attrs = {} }) {
  const id = uid(`f-${name}`);
  const errId = `${id}-err`;
  const hintId = hint ? `${id}-hint` : null;
  const control = input || h('input', { id, name, type, ...attrs });
  control.id = id;
  control.name = control.name || name;
  control.dataset.field = name;
  control.setAttribute('aria-describedby', [hintId, errId].filter(Boolean).join(' '));
  return h('div', { class: 'field', 'data-field-wrap': name },
    h('label', { for: id }, label),
    control,
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
    h('p', { class: 'field-error', id: errId, hidden: true, 'data-testid': `error-${name}` }),
  );
}

const listOf = (text, sep) => String(text || '').split(sep).map((x) => x.trim()).filter(Boolean);

/** Empty → null (the server then names the field), else the number (NaN stays a string). */
function numberOrNull(value) {
  const t = String(value ?? '').trim();
  if (t === '') return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : t;
}

/** Deleting everything Miyagi holds of the signed-in person; `deleted` runs once it is accepted. */
function accountCard({ toast }, deleted) {
  const status = h('p', { class: 'muted small', role: 'status', 'data-testid': 'account-status' });
  const button = confirmButton({
    label: 'Delete all my data', confirmLabel: 'Confirm: delete everything', testid: 'delete-account',
    aria: 'Delete all my data', confirmAria: 'Confirm: delete every profile, document, chat, paper trade and piece of advice for good',
    action: async () => {
      const done = await api.deleteAccount();
      const n = done?.profilesDeleted?.length ?? 0;
      status.textContent = `Deleted ${n} profile${n === 1 ? '' : 's'}; your documents, chats, paper trades and past events are being erased.`;
      toast('Your data is being deleted.', 'success');
      await deleted();
    },
    onError: (err) => toast(`Could not delete your data: ${err.message}`, 'error'),
  });
  return card('Your data', { testid: 'account-card' },
    h('p', {}, 'Delete every profile, the advice written for them, every document you uploaded, every chat with what your coach remembers of you, and the details in your past events. This cannot be undone.'),
    button, status);
}

export async function render(root, ctx) {
  const { signal, toast } = ctx;
  const newButton = h('button', { type: 'button', class: 'button', 'data-testid': 'new-profile' }, 'New profile');
  root.append(h('div', { class: 'page-head' },
    h('div', {}, h('h1', {}, 'Profiles'), h('p', { class: 'lede' }, 'Who you are financially, and whose voice you like to hear advice in.')),
    h('div', { class: 'page-actions' }, newButton)));

  const listBody = h('div', {}, spinner('Loading profiles…'));
  const listCard = card('Your profiles', { testid: 'profile-list', class: 'card-list' }, listBody);

  // ----- the form ------------------------------------------------------------------------------
  const summary = h('div', { class: 'form-summary', tabindex: '-1', 'data-testid': 'form-problem', hidden: true });
  const advisorsList = h('datalist', { id: uid('advisors') }, ADVISORS.map((a) => h('option', { value: a })));
  const inputs = {};
  const mk = (opts) => {
    const el = field(opts);
    inputs[opts.name] = el.querySelector('[data-field]');
    return el;
  };
  const riskSelect = h('select', {}, RISKS.map((r) => h('option', { value: r, selected: r === 'Moderate' }, r)));
  const goals = h('textarea', { rows: 3 });
  const advisorInput = h('input', { type: 'text', list: advisorsList.id, autocomplete: 'off' });
  const formTitle = h('h2', { id: uid('form-title') }, 'New profile');
  const submit = h('button', { type: 'submit', class: 'button', 'data-testid': 'save-profile' }, 'Create profile');
  const cancel = h('button', { type: 'button', class: 'button button-secondary', hidden: true }, 'Cancel editing');
  const status = h('p', { class: 'form-status', role: 'status', 'aria-live': 'polite', 'data-testid': 'profile-status' });
  const form = h('form', { class: 'form', novalidate: true, 'data-testid': 'profile-form', 'aria-labelledby': formTitle.id },
    summary,
    h('div', { class: 'form-grid' },
      mk({ name: 'name', label: 'Name', attrs: { autocomplete: 'name', required: true } }),
      mk({ name: 'age', label: 'Age', type: 'number', attrs: { inputmode: 'numeric', required: true } }),
      mk({ name: 'retirementAge', label: 'Retirement age', type: 'number', attrs: { inputmode: 'numeric', value: '65', required: true } }),
      mk({ name: 'riskTolerance', label: 'Risk tolerance', input: riskSelect }),
      mk({ name: 'annualHouseholdIncome', label: 'Annual household income ($)', type: 'number', attrs: { inputmode: 'decimal', step: 'any', required: true } }),
      mk({ name: 'assets', label: 'Assets ($)', type: 'number', hint: 'Savings, investments and home equity.', attrs: { inputmode: 'decimal', step: 'any' } }),
      mk({ name: 'liabilities', label: 'Liabilities ($)', type: 'number', hint: 'Mortgage, loans and card balances.', attrs: { inputmode: 'decimal', step: 'any' } }),
      mk({ name: 'favoriteAdvisor', label: 'Favourite advisor', input: advisorInput, hint: 'Advice is written in their voice.' }),
      mk({ name: 'favoriteBook', label: 'Favourite book' }),
      mk({ name: 'hobbies', label: 'Hobbies', hint: 'Comma-separated.' }),
      h('div', { class: 'span-2' }, mk({ name: 'goals', label: 'Goals', input: goals, hint: 'One per line, e.g. “Buy a home”.' })),
    ),
    advisorsList,
    h('div', { class: 'form-actions' }, submit, cancel, status),
  );
  const formCard = h('section', { class: 'card card-form', 'aria-labelledby': formTitle.id }, h('header', { class: 'card-head' }, formTitle), form);

  root.append(h('div', { class: 'two-col' }, formCard, listCard), accountCard(ctx, () => {
    setProfileId(null);
    fill(null);
    return loadList();
  }));

  let editing = null; // the profile being edited, or null when creating
  let profiles = [];

  function fill(p) {
    editing = p;
    clearProblem(form, summary);
    inputs.name.value = p?.name ?? '';
    inputs.age.value = p?.age ?? '';
    inputs.retirementAge.value = p?.retirementAge ?? 65;
    inputs.riskTolerance.value = p?.riskTolerance ?? 'Moderate';
    inputs.annualHouseholdIncome.value = p?.annualHouseholdIncome ?? '';
    inputs.assets.value = p?.assets ?? '';
    inputs.liabilities.value = p?.liabilities ?? '';
    inputs.favoriteAdvisor.value = p?.favoriteAdvisor ?? '';
    inputs.favoriteBook.value = p?.favoriteBook ?? '';
    inputs.hobbies.value = (p?.hobbies || []).join(', ');
    inputs.goals.value = (p?.goals || []).join('\n');
    formTitle.textContent = p ? `Edit ${p.name}` : 'New profile';
    submit.textContent = p ? 'Save changes' : 'Create profile';
    cancel.hidden = !p;
    form.dataset.mode = p ? 'edit' : 'create';
    form.dataset.profileId = p?.id || '';
    renderList();
  }

  function collect() {
    const text = (el) => el.value.trim();
    const input = {
      name: text(inputs.name),
      age: numberOrNull(inputs.age.value),
      annualHouseholdIncome: numberOrNull(inputs.annualHouseholdIncome.value),
      riskTolerance: inputs.riskTolerance.value,
      retirementAge: numberOrNull(inputs.retirementAge.value),
      goals: listOf(inputs.goals.value, /\r?\n/),
      hobbies: listOf(inputs.hobbies.value, ','),
      favoriteAdvisor: text(inputs.favoriteAdvisor) || null,
      favoriteBook: text(inputs.favoriteBook) || null,
    };
    // Optional amounts: left out when blank (the server takes 0).
    for (const k of ['assets', 'liabilities']) {
      const v = numberOrNull(inputs[k].value);
      if (v !== null) input[k] = v;
    }
    return input;
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearProblem(form, summary);
    submit.disabled = true;
    form.setAttribute('aria-busy', 'true');
    status.textContent = editing ? 'Saving…' : 'Creating…';
    try {
      const input = collect();
      const saved = editing
        ? await api.updateProfile(editing.id, input, editing.version)
        : await api.createProfile(input);
      if (signal.aborted) return;
      status.textContent = editing ? `Saved ${saved.name} (version ${saved.version}).` : `Created ${saved.name}.`;
      toast(editing ? `Profile saved. Your advice will refresh in the background.` : `Profile “${saved.name}” created.`, 'success');
      if (!editing) setProfileId(saved.id);
      await loadList();
      fill(saved);
    } catch (err) {
      if (signal.aborted) return;
      status.textContent = '';
      showProblem(form, summary, err, {
        412: editing ? h('button', {
          type: 'button', class: 'button button-small', onClick: async () => {
            try { fill(await api.profile(editing.id)); } catch (e2) { toast(e2.message, 'error'); }
          },
        }, 'Load the latest version') : null,
      });
    } finally {
      submit.disabled = false;
      form.removeAttribute('aria-busy');
    }
  });
  cancel.addEventListener('click', () => fill(null));
  newButton.addEventListener('click', () => {
    fill(null);
    inputs.name.focus();
  });

  // ----- the list ------------------------------------------------------------------------------
  function renderList() {
    if (!profiles.length) {
      replace(listBody, h('p', { class: 'muted' }, 'No profiles yet. Fill in the form to create one.'));
      return;
    }
    const chosen = getProfileId();
    replace(listBody, h('ul', { class: 'profile-list' }, profiles.map((p) => {
      const del = confirmButton({
        label: 'Delete', confirmLabel: 'Confirm delete', testid: 'delete-profile',
        aria: `Delete ${p.name}`, confirmAria: `Confirm: delete ${p.name} for good`,
        action: async () => {
          await api.deleteProfile(p.id);
          toast(`Deleted ${p.name}.`, 'success');
          if (getProfileId() === p.id) setProfileId(null);
          if (editing?.id === p.id) fill(null);
          await loadList();
        },
        onError: (err) => toast(`Could not delete ${p.name}: ${err.message}`, 'error'),
      });
      const edit = h('button', { type: 'button', class: 'button button-small button-secondary', 'aria-label': `Edit ${p.name}`, 'data-testid': 'edit-profile' }, 'Edit');
      edit.addEventListener('click', () => {
        fill(p);
        inputs.name.focus();
      });
      return h('li', { class: ['profile-item', editing?.id === p.id && 'is-editing'], 'data-profile-id': p.id, 'data-name': p.name },
        h('div', { class: 'profile-item-main' },
          h('strong', {}, p.name), chosen === p.id ? h('span', { class: 'badge badge-neutral' }, 'on dashboard') : null,
          h('span', { class: 'muted small' }, `${p.age} years · ${p.riskTolerance} · income ${money(p.annualHouseholdIncome)} · v${p.version} · updated ${dateTime(p.updatedAt)}`)),
        h('div', { class: 'profile-item-actions' },
          h('a', { class: 'button button-small button-secondary', href: `#/dashboard?profile=${encodeURIComponent(p.id)}`, 'aria-label': `Open ${p.name}'s dashboard` }, 'Dashboard'),
          edit, del));
    })));
  }

  async function loadList() {
    try {
      profiles = (await api.profiles()) || [];
      if (!signal.aborted) renderList();
    } catch (err) {
      if (!signal.aborted) replace(listBody, notice('error', 'Could not load profiles', err.message));
    }
  }

  fill(null);
  await loadList();
  const wanted = ctx.params.get('id');
  if (wanted && !signal.aborted) {
    const p = profiles.find((x) => x.id === wanted);
    if (p) fill(p);
  }
}

