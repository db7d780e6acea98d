// The public HTTP API as the landing page uses it (docs/openapi.yaml, tag Public), plus what the page keeps
// in localStorage. The API is on the page's own origin unless config.js names another (a cloud deployment).
import { t } from "./i18n.js";

const API = (window.FISSION_CONFIG?.api || "").replace(/\/+$/, "");

// An API address a browser is sent to (not fetched): absolute, for a redirect.
export function apiUrl(path) {
  return new URL(API + path, location.href).toString();
}

export class ApiError extends Error {
  constructor(status, code, message, details = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

// JSON in, JSON out; a 4xx/5xx becomes an ApiError carrying the API's own code and message.
export async function call(method, path, { body, token, headers = {} } = {}) {
  const sent = { Accept: "application/json", ...headers };
  if (body !== undefined) sent["Content-Type"] = "application/json";
  if (token) sent.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(API + path, { method, headers: sent, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, "NETWORK_ERROR", t("network_error"));
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = data?.error || {};
    throw new ApiError(response.status, error.code || `HTTP_${response.status}`, error.message || response.statusText, error.details || {});
  }
  return data;
}

// Beacons never disturb the visitor: failures are dropped (the API counts invalid ones itself).
export function beacon(cid, type, channel, token) {
  const body = { type };
  if (channel && /^[a-z0-9_]{1,32}$/.test(channel)) body.channel = channel;
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  fetch(`${API}/v1/campaigns/${encodeURIComponent(cid)}/events`, {
    method: "POST",
    headers,
    body: JSON.stringify(body),
    keepalive: true,
  }).catch(() => {});
}

// A random id that also works outside secure contexts (crypto.randomUUID needs https or localhost).
export function randomId(prefix) {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return prefix + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function read(key) {
  try {
    return JSON.parse(localStorage.getItem(key) ?? "null");
  } catch {
    return null;
  }
}

function write(key, value) {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // storage off: the page still works for this visit
  }
}

// Per browser: a device id for the self-invite checks. Who the visitor is never comes from here: an
// anonymous campaign mints the identity, a signed one takes the merchant's assertion (docs/identity.md).
export function browserIdentity() {
  const kept = read("fission:identity");
  const identity = { device_id: kept?.device_id || randomId("dev-") };
  // Pages before identity modes also kept a made-up user id here: it is dropped, not sent.
  if (kept?.device_id !== identity.device_id || Object.keys(kept).length !== 1) write("fission:identity", identity);
  return identity;
}

// Per campaign: the participant (join answer, with its token), click tokens, groups opened or joined.
export function campaignStore(cid) {
  const key = (name) => `fission:${cid}:${name}`;
  return {
    participant: () => read(key("participant")),
    setParticipant: (value) => write(key("participant"), value),
    // Another person signed in at the merchant on this browser: their predecessor's participant and groups go.
    forgetParticipant() {
      for (const name of ["participant", "group", "joined-groups"]) write(key(name), null);
    },
    clicks: () => read(key("clicks")) || [],
    addClick(token) {
      const kept = this.clicks();
      // The API takes at most 10, in the order received; the earliest are the ones that can win.
      if (token && token.length <= 64 && !kept.includes(token) && kept.length < 10) write(key("clicks"), [...kept, token]);
    },
    myGroup: () => read(key("group")),
    setMyGroup: (gid) => write(key("group"), gid),
    joinedGroups: () => read(key("joined-groups")) || [],
    addJoinedGroup(gid) {
      const kept = this.joinedGroups();
      if (!kept.includes(gid)) write(key("joined-groups"), [...kept, gid]);
    },
  };
}
