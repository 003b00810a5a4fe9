// The live event stream: one EventSource for the whole app on /api/v1/events/stream. The server
// sends `event: cloudevent` messages whose data is a CloudEvents JSON object; on connect it first
// replays the caller's recent events, then live ones. Events are kept (deduplicated by id, since
// a reconnect replays them again) and handed to every subscriber.

const STREAM_URL = '/api/v1/events/stream';
const KEEP = 300;

export const EVENT_TYPES = {
  adviceGenerated: 'miyagi.advice.generated.v1',
  documentUploaded: 'miyagi.document.uploaded.v1',
  documentIndexed: 'miyagi.document.indexed.v1',
  documentFailed: 'miyagi.document.failed.v1',
  documentDeleted: 'miyagi.document.deleted.v1',
  profileCreated: 'miyagi.user.profile.created.v1',
  profileUpdated: 'miyagi.user.profile.updated.v1',
  profileDeleted: 'miyagi.user.profile.deleted.v1',
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
  if (d.userId && !d.name) parts.push(`profile ${String(d.userId).slice(0, 8)}…`);
  return parts.join(' · ');
}

class EventHub {
  constructor() {
    this.events = []; // newest first
    this.ids = new Set();
    this.listeners = new Set();
    this.statusListeners = new Set();
    this.status = 'connecting';
    this.source = null;
    this.retryTimer = null;
    this.retryDelay = 2000;
  }

  start() {
    if (this.source || typeof EventSource === 'undefined') {
      if (typeof EventSource === 'undefined') this.setStatus('unsupported');
      return;
    }
    this.setStatus('connecting');
    let source;
    try {
      source = new EventSource(STREAM_URL, { withCredentials: true });
    } catch {
      this.setStatus('offline');
      this.scheduleRetry();
      return;
    }
    this.source = source;
    source.addEventListener('open', () => {
      this.retryDelay = 2000;
      this.setStatus('live');
    });
    const handle = (message) => this.receive(message);
    source.addEventListener('cloudevent', handle);
    // A server that sends unnamed events is understood too.
    source.addEventListener('message', handle);
    source.addEventListener('error', () => {
      if (source.readyState === EventSource.CLOSED) {
        // A 404, a wrong content type or a refused request: EventSource gives up; we retry.
        source.close();
        this.source = null;
        this.setStatus('offline');
        this.scheduleRetry();
      } else {
        this.setStatus('reconnecting');
      }
    });
  }

  scheduleRetry() {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.start(), this.retryDelay);
    this.retryDelay = Math.min(this.retryDelay * 2, 30000);
  }

  receive(message) {
    let ev;
    try {
      ev = JSON.parse(message.data);
    } catch {
      return;
    }
    if (!ev || typeof ev !== 'object') return;
    const id = ev.id || message.lastEventId || `${ev.type}-${ev.time}-${ev.subject}`;
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
