// Who the UI calls the API as, when the server asks (auth modes `api_key` and `jwt`; mode
// `none` asks nothing and this stays empty). Kept in sessionStorage: it lasts while the tab is
// open and is not left behind on a shared computer. Any answer 401 tells the app to show the
// sign-in page (the `miyagi:unauthorized` event).

const KEY = 'miyagi.credential';
let memory = null;

/** `{kind: 'api_key' | 'bearer', value}` or null. */
export function credential() {
  try {
    const stored = sessionStorage.getItem(KEY);
    return stored ? JSON.parse(stored) : memory;
  } catch {
    return memory;
  }
}

export function signIn(kind, value) {
  memory = { kind, value };
  try {
    sessionStorage.setItem(KEY, JSON.stringify(memory));
  } catch {
    /* storage refused: memory only */
  }
  window.dispatchEvent(new CustomEvent('miyagi:signed-in'));
}

export function signOut() {
  memory = null;
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    /* nothing stored */
  }
}

/** The headers that carry the credential. */
export function authHeaders() {
  const c = credential();
  if (!c?.value) return {};
  return c.kind === 'bearer' ? { authorization: `Bearer ${c.value}` } : { 'x-api-key': c.value };
}

/** Called for every 401: the credential is missing or no longer accepted. */
export function unauthorized(problem) {
  window.dispatchEvent(new CustomEvent('miyagi:unauthorized', { detail: problem }));
}
