// What the UI remembers between pages: the chosen profile (in localStorage, so it survives a
// reload) and, per profile, the newest advice the dashboard has shown (in memory), which is how
// the dashboard knows that advice it is about to show is new.

const PROFILE_KEY = 'miyagi.profileId';
let memoryProfileId = null;

export function getProfileId() {
  try {
    return localStorage.getItem(PROFILE_KEY) || memoryProfileId;
  } catch {
    return memoryProfileId;
  }
}

export function setProfileId(id) {
  memoryProfileId = id || null;
  try {
    if (id) localStorage.setItem(PROFILE_KEY, id);
    else localStorage.removeItem(PROFILE_KEY);
  } catch {
    /* private mode: memory only */
  }
}

const seenAdvice = new Map();

/** The advice last shown for a profile: `{id, createdAt}` or undefined. */
export function lastSeenAdvice(profileId) {
  return seenAdvice.get(profileId);
}

export function markAdviceSeen(profileId, advice) {
  if (profileId && advice?.id) seenAdvice.set(profileId, { id: advice.id, createdAt: advice.createdAt });
}
