// Chat: talk with your coach. Chats on the left; the conversation with the answer streaming in
// as it is written (POST /api/v1/chats/{id}/messages is an event stream, read with fetch);
// each answer's verified citations, which open to the quoted sentence; what the coach
// remembers of you, which you can correct or delete; and the prompt view, which shows what a
// question would be sent with, part by part.

import { api, ApiError, postEventStream } from './api.js';
import { EVENT_TYPES } from './events.js';
import { h, replace, card, notice, spinner, timeOnly } from './dom.js';
import { showProblem, clearProblem, confirmButton } from './forms.js';
import { field } from './profile.js';
import { attachedCards } from './attached.js';

export async function render(root, ctx) {
  const { signal, hub, toast, params, navigate } = ctx;
  root.append(h('div', { class: 'page-head' },
    h('div', {}, h('h1', {}, 'Chat'),
      h('p', { class: 'lede' }, 'Ask your coach anything about your money. It answers from your figures, your documents and the investing library, cites what it quotes, and remembers what you tell it.'))));

  const chatList = h('ul', { class: 'chat-list', 'data-testid': 'chat-list' });
  const newChat = h('button', { type: 'button', class: 'button button-primary button-small', 'data-testid': 'chat-new' }, 'New chat');
  const conversation = h('div', { class: 'chat-main' });
  const side = h('div', { class: 'chat-side' });
  root.append(h('div', { class: 'chat-layout' },
    card('Chats', { class: 'card-chats', testid: 'chats', actions: newChat }, chatList),
    conversation,
    side));

  let chats = [];
  let current = params.get('chat');

  async function loadChats() {
    chats = await api.chats();
    replace(chatList, ...(chats.length ? chats.map((c) => h('li', {},
      h('a', {
        href: `#/chat?chat=${encodeURIComponent(c.id)}`,
        'aria-current': c.id === current ? 'page' : null,
        'data-testid': 'chat-link',
      }, c.title))) : [h('li', { class: 'muted' }, 'No chats yet.')]));
  }

  newChat.addEventListener('click', async () => {
    newChat.disabled = true;
    try {
      const chat = await api.createChat({});
      navigate(`#/chat?chat=${encodeURIComponent(chat.id)}`);
    } catch (err) {
      toast(`Could not start a chat: ${err.message}`, 'error');
      newChat.disabled = false;
    }
  });

  await loadChats();
  if (signal.aborted) return;
  if (!current && chats.length) current = chats[0].id;
  if (!current) {
    conversation.append(notice('info', 'Start a conversation', h('p', {}, 'Press “New chat” to ask your first question.')));
    side.append(await memoriesCard(null, ctx));
    return;
  }
  let chat;
  try {
    chat = await api.chat(current);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      conversation.append(notice('error', 'This chat does not exist', h('p', {}, h('a', { href: '#/chat' }, 'Back to your chats'))));
      return;
    }
    throw err;
  }
  await loadChats();
  const memories = await memoriesCard(chat, ctx);
  // A first question renames its chat: the list, the heading and the settings follow.
  const refresh = async () => {
    await loadChats();
    const fresh = chats.find((c) => c.id === chat.id);
    if (!fresh || fresh.title === chat.title) return;
    const heading = root.querySelector('[data-testid="conversation"] h2');
    if (heading) heading.textContent = fresh.title;
    const title = root.querySelector('[data-testid="chat-settings"] [data-field="title"]');
    if (title && title.value === chat.title) title.value = fresh.title;
    chat.title = fresh.title;
  };
  conversation.append(await conversationCard(chat, ctx, refresh));
  side.append(memories, settingsCard(chat, ctx, refresh));

  // New memories arrive as events once the coach has read a message.
  const unsubscribe = hub.subscribe((ev) => {
    if ([EVENT_TYPES.memoryExtracted, EVENT_TYPES.memoryUpdated, EVENT_TYPES.memoryDeleted].includes(ev.type)) {
      memories.dispatchEvent(new CustomEvent('memories:changed'));
    }
  });
  signal.addEventListener('abort', unsubscribe);
}

/** The messages of a chat, the composer, the streamed answer and the prompt view. */
async function conversationCard(chat, ctx, onChanged) {
  const { signal, toast } = ctx;
  const list = h('ol', { class: 'messages', 'data-testid': 'messages', 'aria-live': 'off' });
  const older = h('button', { type: 'button', class: 'button button-small button-secondary', hidden: true, 'data-testid': 'older-messages' }, 'Show earlier messages');
  let cursor = null;

  async function loadPage(before) {
    const page = await api.chatMessages(chat.id, before);
    const items = page.messages.map((m) => messageItem(m, ctx));
    if (before) list.prepend(...items); else replace(list, ...items);
    cursor = page.nextCursor ?? null;
    older.hidden = cursor === null;
  }
  older.addEventListener('click', () => loadPage(cursor).catch((err) => toast(err.message, 'error')));
  await loadPage(null);

  const summary = h('div', { class: 'form-summary', tabindex: '-1', hidden: true, 'data-testid': 'chat-problem' });
  const input = h('textarea', { rows: '3', maxlength: '4000', 'data-field': 'content', 'data-testid': 'chat-input', placeholder: 'Ask about saving, investing, retiring…' });
  const send = h('button', { type: 'submit', class: 'button button-primary', 'data-testid': 'chat-send' }, 'Send');
  const showPrompt = h('button', { type: 'button', class: 'button button-secondary', 'data-testid': 'prompt-view-button' }, 'Show the prompt');
  const status = h('p', { class: 'form-status', role: 'status', 'aria-live': 'polite', 'data-testid': 'chat-status' });
  const form = h('form', { class: 'form chat-form', novalidate: true, 'data-testid': 'chat-form' },
    summary,
    field({ name: 'content', label: 'Your message', input }),
    h('div', { class: 'form-actions' }, send, showPrompt, status));
  const promptSlot = h('div', { 'data-testid': 'prompt-view' });

  showPrompt.addEventListener('click', async () => {
    const question = input.value.trim() || 'What should I do next?';
    replace(promptSlot, spinner('Assembling the prompt…'));
    try {
      replace(promptSlot, promptView(await api.chatPrompt(chat.id, question)));
    } catch (err) {
      replace(promptSlot, notice('error', 'No prompt view', err.message));
    }
  });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (send.disabled) return;
    clearProblem(form, summary);
    const content = input.value;
    send.disabled = true;
    const question = messageItem({ author: 'user', content, citations: [] }, ctx);
    const streamed = h('p', { class: 'message-text is-streaming', 'data-testid': 'chat-streaming', 'aria-busy': 'true' });
    const pending = h('li', { class: 'message message-assistant' }, streamed);
    list.append(question, pending);
    pending.scrollIntoView({ block: 'nearest' });
    status.replaceChildren(spinner('Your coach is writing…'));
    let exchange = null;
    let problem = null;
    try {
      await postEventStream(`/api/v1/chats/${encodeURIComponent(chat.id)}/messages`, { content }, (ev) => {
        if (ev.event === 'delta' && ev.data?.text) streamed.append(document.createTextNode(ev.data.text));
        else if (ev.event === 'message') exchange = ev.data;
        else if (ev.event === 'problem') problem = new ApiError(ev.data?.status || 500, ev.data);
      }, { signal });
      if (!exchange && !problem) problem = new ApiError(0, { title: 'The answer stream ended early', detail: 'No answer arrived; try again.' });
    } catch (err) {
      problem = err;
    } finally {
      send.disabled = false;
    }
    if (signal.aborted) return;
    if (problem) {
      pending.remove();
      // A refused message was not stored; one that failed later was (it shows on reload).
      if (problem.status === 422 || problem.status === 404) question.remove();
      status.textContent = '';
      showProblem(form, summary, problem);
      return;
    }
    input.value = '';
    question.replaceWith(messageItem(exchange.question, ctx));
    pending.replaceWith(messageItem(exchange.answer, ctx));
    const seconds = Math.round((exchange.answer.details?.elapsedMs || 0) / 100) / 10;
    status.textContent = `Answered in ${seconds} s.`;
    onChanged().catch(() => {});
  });

  return card(chat.title, { class: 'card-conversation', testid: 'conversation' },
    h('div', { class: 'older' }, older), list, form, promptSlot);
}

// Lookups whose figures the images service draws as a card beside the answer.
const CARD_TOOLS = ['finance-projection', 'spending-month'];

function messageItem(m, ctx) {
  const mine = m.author === 'user';
  const carded = !mine && m.id && (m.details?.toolCalls || []).some((c) => c.ok && CARD_TOOLS.includes(c.name));
  const citations = m.citations || [];
  const memories = m.details?.memories || [];
  return h('li', { class: ['message', mine ? 'message-user' : 'message-assistant'], 'data-testid': mine ? 'chat-question' : 'chat-answer' },
    h('p', { class: 'message-meta muted small' }, mine ? 'You' : 'Coach', m.createdAt ? ` · ${timeOnly(m.createdAt)}` : ''),
    h('p', { class: 'message-text' }, m.content),
    citations.length ? h('ol', { class: 'citations' }, citations.map((c) => h('li', { 'data-testid': 'chat-citation' },
      h('details', {},
        h('summary', {}, c.documentName || 'source'),
        h('blockquote', {}, c.snippet || ''),
        h('p', { class: 'muted small' }, `passage ${Number(c.position) + 1} · relevance ${Number(c.score).toFixed(2)}`))))) : null,
    memories.length ? h('p', { class: 'muted small', 'data-testid': 'answer-memories' },
      `Remembered: ${memories.map((r) => r.text).join(' · ')}`) : null,
    carded ? attachedCards(`chat-message:${m.id}`, ctx) : null,
    toolCalls(m.details?.toolCalls || []));
}

// What the coach looked up for the answer: every figure it states comes from one of these.
const TOOL_LABELS = {
  'profile-read': 'your profile',
  'advice-latest': 'your latest advice',
  'finance-projection': 'a projection',
  'finance-rebalance': 'a rebalancing check',
  'documents-search': 'a search',
  'spending-month': 'your usual month',
};

function toolCalls(calls) {
  if (!calls.length) return null;
  return h('details', { class: 'tool-calls muted small', 'data-testid': 'answer-tools' },
    h('summary', {}, `Looked up: ${calls.map((c) => TOOL_LABELS[c.name] || c.name).join(', ')}`),
    h('ol', {}, calls.map((c) => h('li', { 'data-testid': 'answer-tool' },
      h('p', {}, h('code', {}, c.name), c.calledBy === 'model' ? ' · asked for by the model' : ' · looked up by the coach',
        c.ok ? '' : ' · failed'),
      h('pre', { class: 'tool-result' }, c.result)))));
}

function promptView(view) {
  const rows = view.parts.map((p) => h('tr', {},
    h('th', { scope: 'row' }, p.name),
    h('td', { class: 'num' }, String(p.tokens)),
    h('td', { class: 'num' }, p.budget == null ? '—' : String(p.budget)),
    h('td', { class: 'num' }, p.budget == null ? '' : `${p.kept} kept${p.dropped ? `, ${p.dropped} left out` : ''}`)));
  return h('div', { class: 'prompt-view' },
    h('p', { class: 'small' }, `Search query: “${view.query}”. ${view.totalTokens} of ${view.limitTokens} tokens, counted with ${view.countedWith}.`),
    h('table', { class: 'data-table', 'data-testid': 'prompt-parts' },
      h('caption', { class: 'sr-only' }, 'The prompt’s parts and their tokens'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Part'), h('th', { scope: 'col', class: 'num' }, 'Tokens'),
        h('th', { scope: 'col', class: 'num' }, 'Budget'), h('th', { scope: 'col', class: 'num' }, 'Items'))),
      h('tbody', {}, rows)),
    ...view.messages.map((m) => h('details', {}, h('summary', {}, m.role), h('pre', { class: 'prompt-text' }, m.content))));
}

/** What the coach remembers: long-term everywhere, this chat's context here. */
async function memoriesCard(chat, ctx) {
  const { toast } = ctx;
  const body = h('div', {}, spinner('Loading memories…'));
  const element = card('What your coach remembers', { class: 'card-memories', testid: 'memories' }, body);

  async function load() {
    const all = await api.memories();
    const shown = all.filter((m) => m.longTerm || (chat && m.chatId === chat.id));
    if (!shown.length) {
      replace(body, h('p', { class: 'muted' }, 'Nothing yet. Tell your coach about yourself (“I plan to retire at 55.”) and it will remember.'));
      return;
    }
    replace(body, h('ul', { class: 'memory-list', 'data-testid': 'memories-list' }, shown.map((m) => {
      const text = h('span', { class: 'memory-text' }, m.text);
      const edit = h('button', { type: 'button', class: 'button button-small button-secondary', 'aria-label': `Edit: ${m.text}` }, 'Edit');
      edit.addEventListener('click', () => {
        const inputEl = h('input', { type: 'text', value: m.text, maxlength: '300', 'aria-label': 'Memory text' });
        const save = h('button', { type: 'button', class: 'button button-small' }, 'Save');
        save.addEventListener('click', async () => {
          try {
            await api.updateMemory(m.id, { text: inputEl.value });
            await load();
          } catch (err) {
            toast(`Could not save: ${err.message}`, 'error');
          }
        });
        text.replaceWith(h('span', { class: 'memory-edit' }, inputEl, save));
        edit.remove();
        inputEl.focus();
      });
      const del = confirmButton({
        label: 'Forget', confirmLabel: 'Confirm forget', testid: 'memory-delete',
        aria: `Forget: ${m.text}`, confirmAria: `Confirm: forget ${m.text}`,
        action: async () => {
          await api.deleteMemory(m.id);
          toast('Forgotten.', 'success');
          await load();
        },
        onError: (err) => toast(`Could not forget it: ${err.message}`, 'error'),
      });
      return h('li', { 'data-testid': 'memory' },
        h('span', { class: ['badge', `badge-${m.kind}`] }, m.kind), ' ', text, ' ', edit, ' ', del);
    })));
  }
  element.addEventListener('memories:changed', () => load().catch(() => {}));
  await load();
  return element;
}

/** Title, persona and memory balance of a chat; export and delete. */
function settingsCard(chat, ctx, onChanged) {
  const { toast, navigate } = ctx;
  const summary = h('div', { class: 'form-summary', tabindex: '-1', hidden: true });
  const title = h('input', { type: 'text', value: chat.title, maxlength: '120', 'data-field': 'title' });
  const persona = h('textarea', { rows: '5', maxlength: '2000', 'data-field': 'persona', 'data-testid': 'persona-input' });
  persona.value = chat.persona;
  const balance = h('input', { type: 'range', min: '0', max: '1', step: '0.05', value: String(chat.memoryBalance), 'data-field': 'memoryBalance', 'data-testid': 'memory-balance' });
  const save = h('button', { type: 'submit', class: 'button' }, 'Save');
  const form = h('form', { class: 'form', novalidate: true },
    summary,
    field({ name: 'title', label: 'Title', input: title }),
    field({ name: 'persona', label: 'Persona (the coach’s system prompt)', input: persona }),
    field({ name: 'memoryBalance', label: 'Memory balance', input: balance, hint: 'Left: more of this chat’s recent turns. Right: more of what the coach remembers from other chats.' }),
    h('div', { class: 'form-actions' }, save));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearProblem(form, summary);
    try {
      await api.updateChat(chat.id, { title: title.value, persona: persona.value, memoryBalance: Number(balance.value) });
      toast('Chat saved.', 'success');
      await onChanged();
    } catch (err) {
      showProblem(form, summary, err);
    }
  });
  const exportLink = h('button', { type: 'button', class: 'button button-small button-secondary', 'data-testid': 'chat-export' }, 'Export as JSON');
  exportLink.addEventListener('click', async () => {
    const data = await api.exportChat(chat.id);
    const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' }));
    const a = h('a', { href: url, download: `${chat.title.replace(/[^\w -]+/g, '').trim() || 'chat'}.json` });
    document.body.append(a);
    a.click();
    a.remove();
    URL.revokeObjectURL(url);
  });
  const del = confirmButton({
    label: 'Delete chat', confirmLabel: 'Confirm delete', testid: 'chat-delete',
    aria: `Delete the chat ${chat.title}`, confirmAria: `Confirm: delete the chat ${chat.title}`,
    action: async () => {
      await api.deleteChat(chat.id);
      toast('Chat deleted.', 'success');
      navigate('#/chat');
    },
    onError: (err) => toast(`Could not delete the chat: ${err.message}`, 'error'),
  });
  return card('This chat', { class: 'card-chat-settings', testid: 'chat-settings' }, form, h('p', { class: 'result-actions' }, exportLink, ' ', del));
}
