// The live event stream: one stream for the whole app on /api/v1/events/stream, read with fetch
// so it carries the signed-in credential (EventSource cannot send one). The server sends
// `event: cloudevent` messages whose data is a CloudEvents JSON object; on connect it first
// replays the caller's recent events, then live ones. Events are kept (deduplicated by id, since
// a reconnect replays them again) and handed to every subscriber. A refused credential pauses
// the stream until the person signs in.

import { readEventStream } from './api.js';

const STREAM_URL = '/api/v1/events/stream';
const KEEP = 300;

export const EVENT_TYPES = {
  adviceGenerated: 'miyagi.advice.generated.v1',
  documentUploaded: 'miyagi.document.uploaded.v1',
  documentIndexed: 'miyagi.document.indexed.v1',
  documentFailed: 'miyagi.document.failed.v1',
  documentDeleted: 'miyagi.document.deleted.v2',
  profileCreated: 'miyagi.user.profile.created.v1',
  profileUpdated: 'miyagi.user.profile.updated.v1',
  profileDeleted: 'miyagi.user.profile.deleted.v1',
  chatCreated: 'miyagi.chat.created.v1',
  chatDeleted: 'miyagi.chat.deleted.v1',
  memoryExtracted: 'miyagi.memory.extracted.v1',
  memoryUpdated: 'miyagi.memory.updated.v1',
  memoryDeleted: 'miyagi.memory.deleted.v1',
  orderUpdated: 'miyagi.markets.order.updated.v1',
  expensesImported: 'miyagi.expenses.transactions.imported.v1',
  budgetAtRisk: 'miyagi.expenses.budget.at_risk.v1',
  runChanged: 'miyagi.agents.run.changed.v1',
  ordersApproved: 'miyagi.agents.orders.approved.v1',
  imageGenerated: 'miyagi.image.generated.v1',
  imageFailed: 'miyagi.image.failed.v1',
  imageDeleted: 'miyagi.image.deleted.v1',
};

/** Short human label for an event type. */
export function describeType(type) {
  const labels = {
    [EVENT_TYPES.adviceGenerated]: 'Advice generated',
    [EVENT_TYPES.documentUploaded]: 'Document uploaded',
    [EVENT_TYPES.documentIndexed]: 'Document indexed',
    [EVENT_TYPES.documentFailed]: 'Document failed',
    [EVENT_TYPES.documentDeleted]: 'Document deleted',
    [EVENT_TYPES.profileCreated]: 'Profile created',
    [EVENT_TYPES.profileUpdated]: 'Profile updated',
    [EVENT_TYPES.profileDeleted]: 'Profile deleted',
    [EVENT_TYPES.chatCreated]: 'Chat started',
    [EVENT_TYPES.chatDeleted]: 'Chat deleted',
    [EVENT_TYPES.memoryExtracted]: 'Memory kept',
    [EVENT_TYPES.memoryUpdated]: 'Memory corrected',
    [EVENT_TYPES.memoryDeleted]: 'Memory forgotten',
    [EVENT_TYPES.orderUpdated]: 'Order updated',
    [EVENT_TYPES.expensesImported]: 'Transactions imported',
    [EVENT_TYPES.budgetAtRisk]: 'Budget at risk',
    [EVENT_TYPES.runChanged]: 'Run moved on',
    [EVENT_TYPES.ordersApproved]: 'Orders approved',
    [EVENT_TYPES.imageGenerated]: 'Image drawn',
    [EVENT_TYPES.imageFailed]: 'Image not drawn',
    [EVENT_TYPES.imageDeleted]: 'Image deleted',
  };
  return labels[type] || type || 'Event';
}

/** A one-line summary of an event's payload, from the fields events are known to carry. */
export function summarize(ev) {
  const d = ev?.data && typeof ev.data === 'object' ? ev.data : {};
  const parts = [];
  if (d.name) parts.push(String(d.name));
  if (d.trigger) parts.push(`trigger: ${d.trigger}`);
  if (d.status) parts.push(`status: ${d.status}`);
  if (typeof d.chunkCount === 'number' && d.status === 'indexed') parts.push(`${d.chunkCount} chunks`);
  if (d.error) parts.push(String(d.error));
  if (d.reason) parts.push(String(d.reason));
  if (d.userId && !d.name) parts.push(`profile ${String(d.userId).slice(0, 8)}…`);
  if (typeof d.imported === 'number') parts.push(`${d.imported} new, ${d.duplicates} already there`);
  if (d.runId && d.what) parts.push(`${d.agent}: ${d.what}`);
  if (d.category && typeof d.projected === 'number') parts.push(`${d.category}: heading for $${Math.round(d.projected)} of $${Math.round(d.limit)}`);
  return parts.join(' · ');
}

class EventHub {
  constructor() {
    this.events = []; // newest first
    this.ids = new Set();
    this.listeners = new Set();
    this.statusListeners = new Set();
    this.status = 'connecting';
    this.running = false;
    this.retryDelay = 2000;
    this.wake = null; // resolves a wait early (a sign-in)
    window.addEventListener('miyagi:signed-in', () => this.wake?.());
  }

  /** Follows the stream for the life of the page, reconnecting with backoff. */
  async start() {
    if (this.running) return;
    this.running = true;
    for (;;) {
      let refused = false;
      this.setStatus(this.status === 'live' ? 'reconnecting' : 'connecting');
      try {
        await readEventStream(STREAM_URL, (message) => this.receive(message), {
          onOpen: () => {
            this.retryDelay = 2000;
            this.setStatus('live');
          },
        });
      } catch (err) {
        refused = err?.status === 401;
        this.setStatus('offline');
      }
      // Refused: nothing changes until the person signs in, so wait for that (or a long while).
      await new Promise((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, refused ? 60000 : this.retryDelay);
      });
      this.wake = null;
      if (!refused) this.retryDelay = Math.min(this.retryDelay * 2, 30000);
    }
  }

  receive(message) {
    if (message.event && message.event !== 'cloudevent' && message.event !== 'message') return;
    const ev = message.data;
    if (!ev || typeof ev !== 'object') return;
    const id = ev.id || message.id || `${ev.type}-${ev.time}-${ev.subject}`;
    if (this.ids.has(id)) return;
    this.ids.add(id);
    const entry = { ...ev, id, receivedAt: new Date().toISOString() };
    this.events.unshift(entry);
    if (this.events.length > KEEP) {
      const dropped = this.events.pop();
      this.ids.delete(dropped.id);
    }
    for (const listener of [...this.listeners]) {
      try {
        listener(entry);
      } catch (err) {
        console.error('event listener failed', err);
      }
    }
  }

  /** `listener(event)` for every new event; answers an unsubscribe function. */
  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onStatus(listener) {
    this.statusListeners.add(listener);
    listener(this.status);
    return () => this.statusListeners.delete(listener);
  }

  setStatus(status) {
    if (status === this.status) return;
    this.status = status;
    for (const l of [...this.statusListeners]) l(status);
  }

  /** Events received so far, newest first (optionally only some types). */
  recent(limit = KEEP, filter = null) {
    const list = filter ? this.events.filter(filter) : this.events;
    return list.slice(0, limit);
  }
}

export const hub = new EventHub();
