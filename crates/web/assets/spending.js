// Spending: import a bank's CSV (or a demo household), see each transaction's category and why
// it was filed there, correct it in one click (three corrections of one payee teach a rule),
// and what the months add up to: income against spending, budgets and their pace, spends far
// from the usual and payments that recur. Every number comes from the expenses API.

import { api } from './api.js';
import { EVENT_TYPES } from './events.js';
import { h, replace, card, notice, spinner, money } from './dom.js';
import { showProblem, clearProblem } from './forms.js';
import { monthsChart } from './charts.js';
import { field } from './profile.js';

const usdFormat = new Intl.NumberFormat(undefined, { style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: 2 });
const usd = (x) => (Number.isFinite(x) ? usdFormat.format(x) : '—');
const STAGES = { rule: 'your rule', learned: 'learned', mcc: 'bank code', merchant: 'known merchant', keyword: 'its name', similar: 'similar payee', model: 'model', person: 'you', none: 'unknown' };

export async function render(root, ctx) {
  const { signal, hub, toast } = ctx;
  root.append(h('div', { class: 'page-head' },
    h('div', {}, h('h1', {}, 'Spending'),
      h('p', { class: 'lede' }, 'Your bank statements, filed by category with the reason for each. Correct one and Miyagi learns the payee.'))));

  const categories = await api.expenseCategories();
  if (signal.aborted) return;
  const labelOf = Object.fromEntries(categories.map((c) => [c.id, c.label]));

  // ----- import ---------------------------------------------------------------------------------
  const summary = h('div', { class: 'form-summary', tabindex: '-1', hidden: true, 'data-testid': 'import-problem' });
  const file = h('input', { type: 'file', accept: '.csv,text/csv', 'data-testid': 'import-file' });
  const account = h('input', { type: 'text', value: 'checking', maxlength: '60', 'data-testid': 'import-account' });
  const status = h('p', { class: 'form-status', role: 'status', 'aria-live': 'polite', 'data-testid': 'import-status' });
  const importButton = h('button', { type: 'submit', class: 'button button-primary', 'data-testid': 'import-submit' }, 'Import');
  const demoButton = h('button', { type: 'button', class: 'button button-secondary', 'data-testid': 'import-demo' }, 'Add a demo household');
  const importForm = h('form', { class: 'form', novalidate: true, 'data-testid': 'import-form' },
    summary,
    field({ name: 'file', label: 'Bank statement (CSV)', input: file, hint: 'Date, description and amount columns (or debit and credit); most banks’ exports work as they are.' }),
    field({ name: 'account', label: 'Account', input: account }),
    h('div', { class: 'form-actions' }, importButton, demoButton, status));

  const reportText = (r) => {
    const stages = Object.entries(r.filedBy || {}).map(([stage, n]) => `${n} by ${STAGES[stage] || stage}`).join(', ');
    return `Imported ${r.imported}${r.duplicates ? `, skipped ${r.duplicates} already there` : ''}${stages ? ` (${stages})` : ''}.`;
  };
  importForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearProblem(importForm, summary);
    const chosen = file.files?.[0];
    if (!chosen) {
      showProblem(importForm, summary, { title: 'Choose a file', errors: [{ field: 'file', message: 'choose a CSV file to import' }] });
      return;
    }
    importButton.disabled = true;
    status.textContent = 'Importing…';
    try {
      // The file is stored at once and imported from its event: follow the import until done.
      let job = await api.importFile(chosen, account.value);
      status.textContent = `Received ${job.rows} rows; filing them…`;
      while (job.status === 'received' && !signal.aborted) {
        await new Promise((resolve) => setTimeout(resolve, 400));
        job = await api.expenseImport(job.id);
      }
      if (job.status === 'failed') throw new Error(`The import failed: ${job.failure}`);
      status.textContent = reportText(job);
      loadAll();
    } catch (err) {
      status.textContent = '';
      showProblem(importForm, summary, err);
    } finally {
      importButton.disabled = false;
    }
  });
  demoButton.addEventListener('click', async () => {
    demoButton.disabled = true;
    status.textContent = 'Generating six months of statements…';
    try {
      status.textContent = reportText(await api.generateTransactions(6));
      loadAll();
    } catch (err) {
      status.textContent = '';
      toast(`Could not add the demo household: ${err.message}`, 'error');
    } finally {
      demoButton.disabled = false;
    }
  });

  // ----- budgets --------------------------------------------------------------------------------
  const budgetsBody = h('div', { 'data-testid': 'budgets' });
  const budgetCategory = h('select', { 'data-testid': 'budget-category' },
    categories.filter((c) => !['INCOME', 'TRANSFER_IN', 'TRANSFER_OUT'].includes(c.primary)).map((c) => h('option', { value: c.id }, c.label)));
  const budgetLimit = h('input', { type: 'number', min: '1', step: '1', value: '300', inputmode: 'decimal', 'data-testid': 'budget-limit' });
  const budgetSummary = h('div', { class: 'form-summary', tabindex: '-1', hidden: true });
  const budgetForm = h('form', { class: 'form form-inline', novalidate: true, 'data-testid': 'budget-form' },
    budgetSummary,
    field({ name: 'category', label: 'Category', input: budgetCategory }),
    field({ name: 'monthlyLimit', label: 'Monthly limit ($)', input: budgetLimit }),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'button button-primary', 'data-testid': 'budget-submit' }, 'Set budget')));
  budgetForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearProblem(budgetForm, budgetSummary);
    try {
      showBudgets(await api.setBudget(budgetCategory.value, Number(budgetLimit.value)));
    } catch (err) {
      showProblem(budgetForm, budgetSummary, err);
    }
  });
  function showBudgets(budgets) {
    replace(budgetsBody, budgets.length
      ? h('ul', { class: 'budget-list' }, budgets.map((b) => h('li', { 'data-testid': 'budget', 'data-status': b.status },
        h('div', { class: 'budget-head' }, h('strong', {}, b.label), h('span', {}, `${usd(b.spent)} of ${usd(b.monthlyLimit)}`)),
        h('meter', { min: '0', max: String(b.monthlyLimit), value: String(Math.min(b.spent, b.monthlyLimit)), high: String(b.monthlyLimit * 0.9), optimum: '0', 'aria-label': `${b.label} budget used` }),
        h('p', { class: ['muted', `budget-${b.status}`] }, b.status === 'over' ? `Over by ${usd(-b.remaining)}.`
          : b.status === 'atRisk' ? `At this pace the month ends near ${usd(b.projected)}.` : `On track: about ${usd(b.projected)} by month end.`))))
      : h('p', { class: 'muted' }, 'No budgets yet. Set one below.'));
  }

  // ----- questions ------------------------------------------------------------------------------
  const questionInput = h('input', { type: 'text', maxlength: '300', placeholder: 'How much did I spend on restaurants this month compared to last month?', 'data-testid': 'question-input' });
  const answerBody = h('div', { 'data-testid': 'question-answer', 'aria-live': 'polite' });
  const questionForm = h('form', { class: 'form form-inline', novalidate: true, 'data-testid': 'question-form' },
    field({ name: 'question', label: 'Ask about your spending', input: questionInput }),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'button button-primary', 'data-testid': 'question-submit' }, 'Ask')));
  questionForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (questionInput.value.trim().length < 3) return;
    replace(answerBody, spinner('Adding it up…'));
    try {
      const answer = await api.askSpending(questionInput.value.trim());
      const q = answer.query;
      replace(answerBody,
        h('p', { class: 'answer', 'data-testid': 'question-sentence' }, answer.sentence),
        q ? h('p', { class: 'muted' }, `Read as: ${q.measure} · ${q.category ? (labelOf[q.category] || q.category) : 'all spending'} · ${q.period.label}${q.compareWith ? ` vs ${q.compareWith.label}` : ''}`) : null);
    } catch (err) {
      replace(answerBody, notice('error', 'Could not answer', err.message));
    }
  });

  const chartBody = h('div', { 'data-testid': 'spending-months' }, spinner('Adding up your months…'));
  const insightsBody = h('div', { 'data-testid': 'insights' });
  const tableBody = h('div', { 'data-testid': 'transactions' });

  root.append(
    card('Import', { testid: 'import-card' }, importForm),
    card('Ask', { testid: 'question-card' }, questionForm, answerBody),
    h('div', { class: 'two-col' },
      card('Months', { testid: 'months-card' }, chartBody),
      card('Budgets this month', { testid: 'budgets-card' }, budgetsBody, budgetForm)),
    card('Worth a look', { testid: 'insights-card' }, insightsBody),
    card('Transactions', { testid: 'transactions-card' }, tableBody));

  function categorySelect(t) {
    const select = h('select', { class: 'category-chip', 'data-testid': 'recategorise', 'aria-label': `Category of ${t.description} on ${t.date}` },
      categories.map((c) => h('option', { value: c.id, selected: c.id === t.category }, c.label)));
    select.addEventListener('change', async () => {
      select.disabled = true;
      try {
        const done = await api.recategorise(t.id, select.value);
        toast(done.learnedRule
          ? `Learned: ${done.learnedRule.pattern} goes to ${labelOf[done.learnedRule.category]} (${done.refiled} more re-filed).`
          : `Filed under ${labelOf[select.value]}.`, 'success');
        loadAll();
      } catch (err) {
        toast(`Could not change the category: ${err.message}`, 'error');
        select.value = t.category;
      } finally {
        select.disabled = false;
      }
    });
    return select;
  }

  async function loadAll() {
    try {
      const [months, budgets, insights, transactions] = await Promise.all([
        api.spendingSummary(6), api.budgets(), api.spendingInsights(), api.transactions(200)]);
      if (signal.aborted) return;
      replace(chartBody, monthsChart(months));
      showBudgets(budgets);
      replace(insightsBody,
        h('h3', {}, 'Unusual spending'),
        insights.anomalies.length
          ? h('ul', { class: 'plain-list' }, insights.anomalies.map((a) => h('li', { 'data-testid': 'anomaly' }, a.because, ` (${a.transaction.date})`)))
          : h('p', { class: 'muted' }, 'Nothing unusual this month.'),
        h('h3', {}, 'The next three months, at your recent pace'),
        insights.forecast.length
          ? h('table', { class: ['data-table', 'compact'], 'data-testid': 'forecast' },
            h('thead', {}, h('tr', {}, ['Month', 'Income', 'Recurring', 'Other spending', 'Left over'].map((t, i) => h('th', { class: i ? 'num' : '' }, t)))),
            h('tbody', {}, insights.forecast.map((m) => h('tr', {},
              h('th', {}, m.month), h('td', { class: 'num' }, usd(m.income)), h('td', { class: 'num' }, usd(m.recurring)),
              h('td', { class: 'num' }, usd(m.otherSpending)), h('td', { class: ['num', m.net < 0 ? 'down' : 'up'] }, usd(m.net))))))
          : h('p', { class: 'muted' }, 'A forecast needs at least one full month of transactions.'),
        h('h3', {}, 'Recurring payments'),
        insights.recurring.length
          ? h('ul', { class: 'plain-list' }, insights.recurring.map((r) => h('li', { 'data-testid': 'recurring' },
            `${r.payee}: ${usd(-r.amount)} ${r.every}, next about ${r.next}`)))
          : h('p', { class: 'muted' }, 'None found yet.'));
      replace(tableBody, transactions.length
        ? h('table', { class: ['data-table', 'compact'], 'data-testid': 'transactions-table' },
          h('thead', {}, h('tr', {}, ['Date', 'Description', 'Amount', 'Category', 'Why'].map((t, i) => h('th', { class: i === 2 ? 'num' : '' }, t)))),
          h('tbody', {}, transactions.map((t) => h('tr', { 'data-testid': 'transaction', 'data-id': t.id, 'data-by': t.filed.by },
            h('td', {}, t.date), h('td', {}, t.description), h('td', { class: ['num', t.amount < 0 ? 'down' : 'up'] }, usd(t.amount)),
            h('td', {}, categorySelect(t)),
            h('td', { class: 'muted', title: `${STAGES[t.filed.by] || t.filed.by}, confidence ${Math.round(t.filed.confidence * 100)}%` },
              t.filed.pending ? 'the model is filing it…' : t.filed.because)))))
        : notice('info', 'No transactions yet', 'Import a CSV export from your bank, or add a demo household to look around.'));
    } catch (err) {
      if (!signal.aborted) replace(chartBody, notice('error', 'Could not load your spending', err.message));
    }
  }

  signal.addEventListener('abort', hub.subscribe((ev) => {
    if (ev.type === EVENT_TYPES.expensesImported) setTimeout(loadAll, 1500);
  }));
  loadAll();
}
