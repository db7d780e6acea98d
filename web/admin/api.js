// The HTTP API wrapper: JSON in and out, the operator's bearer token, and errors as ApiError
// carrying the API's `code`, `message` and `details` so screens can show them as they are.

const SESSION_KEY = "fission:admin:session";

/** The API origin: <meta name="fission-api" content="https://api.example.com">, window.FISSION_CONFIG.api,
 * or this page's own origin (the local stack, or CloudFront routing /v1/* to the API). */
export function apiBase() {
  const meta = document.querySelector('meta[name="fission-api"]')?.getAttribute("content")?.trim();
  const configured = window.FISSION_CONFIG?.api || meta || "";
  return configured.replace(/\/+$/, "");
}

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || {};
  }
}

export function session() {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
  } catch {
    return null;
  }
}

export function saveSession(value) {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(value));
}

export function clearSession() {
  sessionStorage.removeItem(SESSION_KEY);
}

// Who asks the operator for an authenticator code when the API wants a fresh step-up (stepup.js):
// an async function of the ApiError that resolves to the code, or to null when the operator cancels.
let askForCode = null;

export function onStepUp(handler) {
  askForCode = handler;
}

/**
 * api("GET", "/v1/admin/campaigns", undefined, {headers}) -> decoded JSON (null for 204).
 * A 401 on an authenticated call ends the session and tells the app (event "fission:unauthorized").
 * A 403 STEP_UP_REQUIRED from an enrolled operator asks for an authenticator code and sends the call
 * again with it as X-Fission-TOTP (again after a wrong code); cancelling throws the refusal.
 */
export async function api(method, path, body, { headers = {}, raw = false } = {}) {
  const current = session();
  const init = { method, headers: { Accept: "application/json", ...headers } };
  if (current?.token) init.headers.Authorization = `Bearer ${current.token}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(apiBase() + path, init);
  } catch (error) {
    throw new ApiError(0, "NETWORK", String(error.message || error), {});
  }
  if (raw && response.ok) return response;
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const error = data?.error || {};
    const failure = new ApiError(
      response.status,
      error.code || `HTTP_${response.status}`,
      error.message || `${response.status} ${response.statusText}`,
      error.details,
    );
    if (response.status === 401 && current?.token) {
      clearSession();
      window.dispatchEvent(new CustomEvent("fission:unauthorized", { detail: failure }));
    }
    // Without an authenticator no code can help: the screen shows the refusal and how to enrol.
    if (failure.code === "STEP_UP_REQUIRED" && failure.details.reason !== "not_enrolled" && askForCode) {
      const code = await askForCode(failure);
      if (code) return api(method, path, body, { headers: { ...headers, "X-Fission-TOTP": code }, raw });
    }
    throw failure;
  }
  return data;
}

/** "a=1&b=2" from an object, skipping empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
