// Images: ask for a picture in words and see it when it is drawn. Without an images endpoint,
// Miyagi draws cards of the person's own figures (target mix, retirement projection, paper
// positions, usual month); the caption under each says what it shows and where the numbers come
// from. Requests answer 202 at once; the live event stream says when each image is ready.

import { api, request } from './api.js';
import { EVENT_TYPES } from './events.js';
import { h, replace, card, notice, spinner, dateTime } from './dom.js';
import { showProblem, clearProblem } from './forms.js';
import { field } from './profile.js';

const SIZES = ['1024x1024', '512x512', '256x256', '1792x1024', '1024x1792'];

export async function render(root, ctx) {
  const { signal, hub, toast } = ctx;
  const model = await api.imageModel();
  if (signal.aborted) return;
  root.append(h('div', { class: 'page-head' },
    h('div', {}, h('h1', {}, 'Images'),
      h('p', { class: 'lede' }, model.cardsOnly
        ? 'Cards of your own figures, drawn from the finance engine and your accounts. Ask for one in your words.'
        : `Pictures drawn by ${model.model}.`))));

  // ----- ask ------------------------------------------------------------------------------------
  const summary = h('div', { class: 'form-summary', tabindex: '-1', hidden: true, 'data-testid': 'image-problem' });
  const prompt = h('textarea', { name: 'prompt', rows: '2', maxlength: '4000', 'data-testid': 'image-prompt', placeholder: model.suggestions[0] });
  const size = h('select', { name: 'size', 'data-testid': 'image-size' }, ...SIZES.map((s) => h('option', { value: s }, s)));
  const submit = h('button', { type: 'submit', class: 'button button-primary', 'data-testid': 'image-submit' }, 'Draw');
  const suggestions = h('div', { class: 'chips' }, ...model.suggestions.map((text) => {
    const chip = h('button', { type: 'button', class: 'chip', 'data-testid': 'image-suggestion' }, text);
    chip.addEventListener('click', () => { prompt.value = text; prompt.focus(); });
    return chip;
  }));
  const form = h('form', { class: 'form', novalidate: true, 'data-testid': 'image-form' },
    summary,
    field({ name: 'prompt', label: 'What to draw', input: prompt }),
    suggestions,
    field({ name: 'size', label: 'Size', input: size }),
    h('div', { class: 'form-actions' }, submit));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearProblem(form, summary);
    submit.disabled = true;
    try {
      await api.requestImage({ prompt: prompt.value, size: size.value });
      prompt.value = '';
      load();
    } catch (err) {
      showProblem(form, summary, err);
    } finally {
      submit.disabled = false;
    }
  });
  root.append(card('Ask for an image', {}, form));

  // ----- gallery --------------------------------------------------------------------------------
  const gallery = h('div', { class: 'gallery', 'data-testid': 'image-gallery' }, spinner());
  root.append(card('Your images', {}, gallery));
  // Object URLs of pictures already fetched, by image id: a picture never changes.
  const pictures = new Map();
  signal.addEventListener('abort', () => pictures.forEach((url) => URL.revokeObjectURL(url)));

  async function picture(image) {
    if (!pictures.has(image.id)) {
      const response = await request('GET', image.contentUrl, { raw: true, signal });
      if (!response.ok) throw new Error(`the picture could not be loaded (${response.status})`);
      pictures.set(image.id, URL.createObjectURL(await response.blob()));
    }
    return pictures.get(image.id);
  }

  function tile(image) {
    const caption = h('figcaption', {},
      h('p', { class: 'image-prompt' }, image.attachedTo
        ? `Drawn beside ${image.attachedTo.startsWith('advice:') ? 'your advice' : 'an answer of your coach’s'}`
        : `“${image.prompt}”`),
      h('p', { class: 'muted' }, `${image.size} · ${image.model} · ${dateTime(image.createdAt)}`));
    const figure = h('figure', { class: 'image-tile', 'data-testid': 'image-tile', 'data-status': image.status, 'data-image-id': image.id });
    if (image.status === 'pending') {
      figure.append(h('div', { class: 'image-frame' }, spinner('Drawing…')), caption);
    } else if (image.status === 'failed') {
      figure.append(notice('error', 'Not drawn', image.failure || 'The image could not be made.'), caption);
    } else {
      const img = h('img', { alt: image.revisedPrompt || image.prompt, 'data-testid': 'image-picture' });
      picture(image).then((url) => { img.src = url; }).catch((err) => toast(err.message, 'error'));
      caption.append(h('p', { class: 'image-shows', 'data-testid': 'image-caption' }, image.revisedPrompt || ''));
      figure.append(h('div', { class: 'image-frame' }, img), caption);
    }
    const remove = h('button', { type: 'button', class: 'button button-secondary button-small', 'data-testid': 'image-delete' }, 'Delete');
    remove.addEventListener('click', async () => {
      remove.disabled = true;
      try {
        await api.deleteImage(image.id);
        load();
      } catch (err) {
        toast(err.message, 'error');
        remove.disabled = false;
      }
    });
    figure.append(remove);
    return figure;
  }

  // The live stream says when an image is drawn; while one is pending the page also asks again
  // every two seconds, so a dropped stream never leaves it drawing forever.
  let recheck = null;
  signal.addEventListener('abort', () => clearTimeout(recheck));
  async function load() {
    clearTimeout(recheck);
    try {
      const images = await api.images();
      if (signal.aborted) return;
      replace(gallery, ...(images.length
        ? images.map(tile)
        : [h('p', { class: 'muted' }, 'No images yet: ask for one above.')]));
      if (images.some((image) => image.status === 'pending')) recheck = setTimeout(load, 2000);
    } catch (err) {
      if (!signal.aborted) replace(gallery, notice('error', 'Could not load your images', err.message));
    }
  }

  signal.addEventListener('abort', hub.subscribe((ev) => {
    if ([EVENT_TYPES.imageGenerated, EVENT_TYPES.imageFailed, EVENT_TYPES.imageDeleted].includes(ev.type)) load();
  }));
  load();
}
