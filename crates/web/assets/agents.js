// Agents: start the rebalancer or the retirement planner, or have the model plan a goal and
// start the plan once read; then follow each run's steps as they happen. A step that changes
// something (placing orders) waits here for Approve or Reject, showing exactly what it would do;
// an unanswered one is rejected at its deadline. The page follows the run events live.

import { api } from './api.js';
import { EVENT_TYPES } from './events.js';
import { h, replace, card, notice, spinner, dateTime } from './dom.js';
import { showProblem, clearProblem } from './forms.js';
import { field } from './profile.js';

const usd = (x) => (Number.isFinite(x) ? x.toLocaleString(undefined, { style: 'currency', currency: 'USD', maximumFractionDigits: 0 }) : '—');
const STATE_LABELS = { planned: 'Planned', running: 'Running', waiting_approval: 'Waiting for you', completed: 'Completed', failed: 'Failed', cancelled: 'Cancelled' };

export async function render(root, ctx) {
  const { signal, hub, toast } = ctx;
  root.append(h('div', { class: 'page-head' },
    h('div', {}, h('h1', {}, 'Agents'),
      h('p', { class: 'lede' }, 'Work done in steps you can follow. Nothing that changes your accounts happens without your approval.'))));

  // ----- rebalancer -----------------------------------------------------------------------------
  const band = h('input', { type: 'number', min: '1', max: '50', step: '1', value: '5', 'data-testid': 'rebalancer-band' });
  const rebalanceSummary = h('div', { class: 'form-summary', tabindex: '-1', hidden: true });
  const rebalanceForm = h('form', { class: 'form form-inline', novalidate: true, 'data-testid': 'rebalancer-form' },
    rebalanceSummary,
    field({ name: 'inputs.band', label: 'Trade a stock once it is this many points off its share', input: band }),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'button button-primary', 'data-testid': 'start-rebalancer' }, 'Rebalance my paper account')));
  rebalanceForm.addEventListener('submit', (e) => {
    e.preventDefault();
    start(rebalanceForm, rebalanceSummary, { agent: 'rebalancer', inputs: { band: Number(band.value) / 100 } });
  });

  // ----- retirement planner ---------------------------------------------------------------------
  const number = (name, value, testid) => h('input', { type: 'number', name, value, min: '0', inputmode: 'decimal', 'data-testid': testid });
  const age = number('age', '40', 'retire-age');
  const retirementAge = number('retirementAge', '65', 'retire-at');
  const savings = number('savings', '100000', 'retire-savings');
  const annualSavings = number('annualSavings', '12000', 'retire-annual');
  const retireSummary = h('div', { class: 'form-summary', tabindex: '-1', hidden: true });
  const retireForm = h('form', { class: 'form', novalidate: true, 'data-testid': 'retirement-form' },
    retireSummary,
    h('div', { class: 'form-grid' },
      field({ name: 'inputs.age', label: 'Age', input: age }),
      field({ name: 'inputs.retirementAge', label: 'Retire at', input: retirementAge }),
      field({ name: 'inputs.savings', label: 'Saved so far ($)', input: savings }),
      field({ name: 'inputs.annualSavings', label: 'Saved each year ($)', input: annualSavings })),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'button button-primary', 'data-testid': 'start-retirement' }, 'Plan my retirement')));
  retireForm.addEventListener('submit', (e) => {
    e.preventDefault();
    start(retireForm, retireSummary, { agent: 'retirement-planner', inputs: {
      age: Number(age.value), retirementAge: Number(retirementAge.value), savings: Number(savings.value), annualSavings: Number(annualSavings.value) } });
  });

  // ----- equity analyst ------------------------------------------------------------------------
  const symbol = h('input', { type: 'text', value: 'MSFT', maxlength: '12', autocapitalize: 'characters', 'data-testid': 'analyst-symbol' });
  const company = h('input', { type: 'text', value: 'Microsoft', maxlength: '80', 'data-testid': 'analyst-company' });
  const analystSummary = h('div', { class: 'form-summary', tabindex: '-1', hidden: true });
  const analystForm = h('form', { class: 'form form-inline', novalidate: true, 'data-testid': 'analyst-form' },
    analystSummary,
    field({ name: 'inputs.symbol', label: 'Stock symbol', input: symbol }),
    field({ name: 'inputs.company', label: 'Company name', input: company }),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'button button-primary', 'data-testid': 'start-analyst' }, 'Analyse')));
  analystForm.addEventListener('submit', (e) => {
    e.preventDefault();
    start(analystForm, analystSummary, { agent: 'equity-analyst', inputs: { symbol: symbol.value.trim(), company: company.value.trim() || undefined } });
  });

  // ----- a goal, planned by the model -----------------------------------------------------------
  const goal = h('input', { type: 'text', maxlength: '500', placeholder: 'Rebalance my paper portfolio back to equal weights', 'data-testid': 'goal-input' });
  const planText = h('textarea', { rows: '8', spellcheck: 'false', 'data-testid': 'plan-text', hidden: true, 'aria-label': 'The proposed plan, as JSON' });
  const planNotes = h('div', { 'aria-live': 'polite', 'data-testid': 'plan-notes' });
  const startPlan = h('button', { type: 'button', class: 'button button-secondary', hidden: true, 'data-testid': 'start-plan' }, 'Start this plan');
  const goalSummary = h('div', { class: 'form-summary', tabindex: '-1', hidden: true });
  const goalForm = h('form', { class: 'form', novalidate: true, 'data-testid': 'goal-form' },
    goalSummary,
    field({ name: 'goal', label: 'What should be done?', input: goal }),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'button button-primary', 'data-testid': 'propose-plan' }, 'Propose a plan'), startPlan),
    planNotes, planText);
  goalForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearProblem(goalForm, goalSummary);
    replace(planNotes, spinner('The model is planning…'));
    try {
      const proposal = await api.proposePlan(goal.value.trim() || goal.placeholder);
      planText.value = JSON.stringify(proposal.steps, null, 2);
      planText.hidden = false;
      startPlan.hidden = false;
      replace(planNotes, proposal.problems.length
        ? notice('error', 'Change these before it can run', h('ul', {}, proposal.problems.map((p) => h('li', {}, p))))
        : h('p', { class: 'muted' }, 'Read the plan, edit it if you like, then start it. Steps that place orders will wait for you.'));
    } catch (err) {
      replace(planNotes);
      showProblem(goalForm, goalSummary, err);
    }
  });
  startPlan.addEventListener('click', () => {
    let plan;
    try {
      plan = JSON.parse(planText.value);
    } catch (err) {
      showProblem(goalForm, goalSummary, { title: 'The plan is not JSON', errors: [{ field: 'plan', message: err.message }] });
      return;
    }
    start(goalForm, goalSummary, { agent: 'custom', goal: goal.value.trim() || goal.placeholder, plan });
  });

  async function start(form, summary, body) {
    clearProblem(form, summary);
    try {
      const run = await api.startRun(body);
      toast(`Started: ${run.goal}`);
      loadRuns();
    } catch (err) {
      showProblem(form, summary, err);
    }
  }

  // ----- runs -----------------------------------------------------------------------------------
  const runsBody = h('div', { 'data-testid': 'runs' }, spinner());
  root.append(
    h('div', { class: 'two-col' },
      card('Rebalancer', { testid: 'rebalancer-card' }, h('p', { class: 'muted' }, 'Brings the stocks in your paper account back to equal shares: sells first, then buys with the proceeds.'), rebalanceForm),
      card('Retirement planner', { testid: 'retirement-card' }, h('p', { class: 'muted' }, 'Simulates your savings as planned, saving a fifth more, and retiring two years later.'), retireForm)),
    h('div', { class: 'two-col' },
      card('Equity analyst', { testid: 'analyst-card' }, h('p', { class: 'muted' }, 'What your documents say about a stock, beside its prices, with the sentences it rests on.'), analystForm),
      card('Plan a goal', { testid: 'goal-card' }, goalForm)),
    card('Runs', { testid: 'runs-card' }, runsBody));

  async function loadRuns() {
    try {
      const runs = await api.runs();
      if (signal.aborted) return;
      replace(runsBody, runs.length
        ? h('ol', { class: 'run-list' }, runs.map(runItem))
        : notice('info', 'No runs yet', 'Start an agent above.'));
    } catch (err) {
      if (!signal.aborted) replace(runsBody, notice('error', 'Could not load your runs', err.message));
    }
  }

  function runItem(run) {
    return h('li', { class: 'run', 'data-testid': 'run', 'data-state': run.state, 'data-agent': run.agent },
      h('div', { class: 'run-head' },
        h('strong', {}, run.goal),
        h('span', { class: ['badge', `badge-run-${run.state}`], 'data-testid': 'run-state' }, STATE_LABELS[run.state] || run.state),
        h('span', { class: 'muted' }, dateTime(run.createdAt))),
      run.reason ? h('p', { class: 'muted', 'data-testid': 'run-reason' }, run.reason) : null,
      h('ol', { class: 'step-list' }, run.steps.map((step) => stepItem(run, step))),
      ['planned', 'running', 'waiting_approval'].includes(run.state)
        ? h('div', { class: 'form-actions' }, button('Cancel run', 'cancel-run', 'button-secondary', () => api.cancelRun(run.id)))
        : null);
  }

  function stepItem(run, step) {
    const waiting = step.state === 'waiting_approval';
    return h('li', { class: ['step', `step-${step.state}`], 'data-testid': 'step', 'data-state': step.state },
      h('div', { class: 'step-head' },
        h('span', { class: 'step-tool' }, step.tool),
        h('span', { class: 'muted' }, step.purpose),
        h('span', { class: 'badge' }, step.state.replace('_', ' ')),
        step.attempts > 1 ? h('span', { class: 'muted' }, `${step.attempts} attempts`) : null),
      stepDetail(step),
      step.error ? h('p', { class: 'error-text' }, step.error) : null,
      step.decision ? h('p', { class: 'muted', 'data-testid': 'step-decision' },
        `${step.decision.approved ? 'Approved' : 'Rejected'} by ${step.decision.by}, ${dateTime(step.decision.at)}${step.decision.note ? `: ${step.decision.note}` : ''}`) : null,
      waiting ? h('div', { class: 'approval', role: 'group', 'aria-label': 'Approve or reject this step' },
        h('p', {}, `Approve by ${dateTime(step.deadline)}, or it is rejected.`),
        h('div', { class: 'form-actions' },
          button('Approve', 'approve-step', 'button-primary', () => api.decide(run.id, { step: step.position, approve: true })),
          button('Reject', 'reject-step', 'button-secondary', () => api.decide(run.id, { step: step.position, approve: false })))) : null);
  }

  function stepDetail(step) {
    const out = step.output;
    if (step.tool === 'place-orders') {
      const orders = step.orders.length ? step.orders : (step.resolved?.orders || []);
      return orders.length
        ? h('ul', { class: 'order-list', 'data-testid': 'step-orders' }, orders.map((o) => h('li', {},
          `${o.side} ${o.qty} ${o.symbol}${o.status ? ` — ${o.status}${o.averagePrice ? ` at ${usd(o.averagePrice)}` : ''}${o.reason ? ` (${o.reason})` : ''}` : ''}`)))
        : (out ? h('p', { class: 'muted' }, 'No order was needed.') : null);
    }
    if (!out) return null;
    if (step.tool === 'search-documents') {
      return h('p', { class: 'muted' }, out.passages.length ? `${out.passages.length} passages from ${[...new Set(out.passages.map((p) => p.documentName))].join(', ')}.` : 'Nothing in your documents.');
    }
    if (step.tool === 'write-analysis') {
      return h('div', { class: 'report', 'data-testid': 'analysis' }, out.text.split('\n\n').map((p) => h('p', {}, p)),
        out.citations.length ? h('ol', { class: 'citations' }, out.citations.map((c) => h('li', {}, h('q', {}, c.snippet), ` — ${c.documentName}`))) : null);
    }
    if (step.tool === 'read-positions') {
      return h('p', { class: 'muted' }, `${out.positions.map((p) => `${p.shares} ${p.symbol}`).join(', ')}: ${usd(out.value)} in all.`);
    }
    if (out.summary && step.tool !== 'project-retirement') return h('p', {}, out.summary);
    if (step.tool === 'project-retirement') {
      return h('table', { class: 'table' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Scenario'), h('th', {}, 'Retire at'), h('th', {}, 'Saved a year'), h('th', {}, '1 in 10 below'), h('th', {}, 'Middle'), h('th', {}, '1 in 10 above'))),
        h('tbody', {}, out.scenarios.map((s) => h('tr', {},
          h('td', {}, s.name), h('td', {}, String(s.retirementAge)), h('td', {}, usd(s.annualSavings)), h('td', {}, usd(s.p10)), h('td', {}, usd(s.p50)), h('td', {}, usd(s.p90))))));
    }
    if (out.text) return h('div', { class: 'report', 'data-testid': 'report' }, out.text.split('\n\n').map((p) => h('p', {}, p)),
      out.author === 'template' ? h('p', { class: 'muted' }, `Computed sentences only (${out.dropped}).`) : null);
    return null;
  }

  function button(label, testid, kind, action) {
    const b = h('button', { type: 'button', class: ['button', kind], 'data-testid': testid }, label);
    b.addEventListener('click', async () => {
      b.disabled = true;
      try {
        await action();
        loadRuns();
      } catch (err) {
        toast(err.message, 'error');
        b.disabled = false;
      }
    });
    return b;
  }

  signal.addEventListener('abort', hub.subscribe((ev) => {
    if (ev.type === EVENT_TYPES.runChanged || ev.type === EVENT_TYPES.orderUpdated) loadRuns();
  }));
  loadRuns();
}
