// Cards beside an answer. The images service draws a card of the figures an answer stated (a
// projection, a usual month, an advice's target mix) from the answer's own event, a moment after
// the answer is stored; this asks for them by the answer's id, again whenever the live stream says
// an image was drawn, and every two seconds for a short while in case the stream is down.

import { api, request } from './api.js';
import { EVENT_TYPES } from './events.js';
import { h, replace } from './dom.js';

const WAIT_MS = 30000;

/** A slot that fills with the cards drawn for `answer` (`chat-message:{id}` or `advice:{id}`). */
export function attachedCards(answer, { signal, hub }) {
  const slot = h('div', { class: 'attached-cards', 'data-testid': 'attached-cards' });
  const started = Date.now();
  const urls = [];
  let timer = null;
  let shown = false;
  const stop = () => { clearTimeout(timer); urls.forEach((url) => URL.revokeObjectURL(url)); };
  signal.addEventListener('abort', stop);

  async function figure(image) {
    const response = await request('GET', image.contentUrl, { raw: true, signal });
    if (!response.ok) throw new Error(`the card could not be loaded (${response.status})`);
    const url = URL.createObjectURL(await response.blob());
    urls.push(url);
    return h('figure', { class: 'attached-card', 'data-testid': 'attached-card' },
      h('img', { src: url, alt: image.revisedPrompt || image.prompt, 'data-testid': 'attached-picture' }),
      h('figcaption', { class: 'muted small' }, image.revisedPrompt || ''));
  }

  async function load() {
    clearTimeout(timer);
    if (shown || signal.aborted) return;
    try {
      const ready = (await api.images({ attachedTo: answer })).filter((i) => i.status === 'ready');
      if (ready.length) {
        shown = true;
        replace(slot, ...(await Promise.all(ready.map(figure))));
        return;
      }
    } catch (err) {
      if (signal.aborted) return;
      // A card is an extra: a failure to show one leaves the answer as it is.
    }
    if (Date.now() - started < WAIT_MS) timer = setTimeout(load, 2000);
  }
  signal.addEventListener('abort', hub.subscribe((ev) => {
    if (ev.type === EVENT_TYPES.imageGenerated) load();
  }));
  load();
  return slot;
}
