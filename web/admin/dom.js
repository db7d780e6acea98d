// A tiny DOM helper. Text always goes in through textContent (never innerHTML), so any string the
// API returns is shown as text, whatever it contains.

/**
 * h("button", {class: "primary", onclick: fn, "aria-label": "x"}, "text", child, [more]) -> Element.
 * Attributes starting with "on" become listeners; `dataset`/`style` objects are merged; false/null skip.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "style" && typeof value === "object") Object.assign(el.style, value);
    else if (key === "class") el.className = value;
    else if (key === "value" || key === "checked" || key === "disabled" || key === "selected") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

let uid = 0;
/** A unique id for label/input pairs. */
export function nextId(prefix = "f") {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** A labelled form control: <div class=field><label for>..</label>control<hint/><error aria-live/></div>. */
export function field(label, control, hint) {
  if (!control.id) control.id = nextId();
  const error = h("p", { class: "field-error", id: `${control.id}-error`, "aria-live": "polite" });
  const described = [error.id];
  let hintEl = null;
  if (hint) {
    hintEl = h("p", { class: "hint", id: `${control.id}-hint` }, hint);
    described.push(hintEl.id);
  }
  control.setAttribute("aria-describedby", described.join(" "));
  const wrap = h("div", { class: "field" }, h("label", { for: control.id }, label), control, hintEl, error);
  wrap.setError = (message) => {
    error.textContent = message || "";
    control.toggleAttribute("aria-invalid", Boolean(message));
  };
  return wrap;
}

/** A <select> from [[value, label], ...]. */
export function select(options, value, attrs = {}) {
  return h(
    "select",
    attrs,
    options.map(([v, label]) => h("option", { value: v, selected: String(v) === String(value ?? "") }, label)),
  );
}

/** A table: columns [{label, cell: (row) => Node|string, class?}], rows. Empty rows show `empty`. */
export function table(columns, rows, empty) {
  if (!rows.length && empty) return emptyState(empty);
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          columns.map((c) => h("th", { scope: "col", class: c.class }, c.label)),
        ),
      ),
      h(
        "tbody",
        {},
        rows.map((row) =>
          h(
            "tr",
            {},
            columns.map((c) => h("td", { class: c.class, "data-label": c.label }, c.cell(row))),
          ),
        ),
      ),
    ),
  );
}

/**
 * The API's error as an alert: its message and code, or `notAvailable` when the route is missing (404).
 * `role: alert` is left off where the box replaces a part of the page that refreshes on its own.
 */
export function errorBox(error, { notAvailable = null, tag = "p", alert = true } = {}) {
  const text = notAvailable && error.status === 404 ? notAvailable : `${error.message} (${error.code})`;
  return h(tag, { class: "error-box", role: alert ? "alert" : null }, text);
}

export function emptyState(text, action) {
  return h("div", { class: "empty", role: "note" }, h("p", {}, text), action || null);
}

export function loading(text) {
  return h("p", { class: "loading", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), text);
}

/** Runs `work` with the button disabled and marked busy; returns its result. */
export async function busy(button, work) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

/** Calls `fn` once `ms` after the last call. */
export function debounce(fn, ms) {
  let timer = null;
  const wrapped = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  wrapped.cancel = () => clearTimeout(timer);
  return wrapped;
}

export function yuan(fen) {
  if (fen === null || fen === undefined) return "–";
  const value = Number(fen) / 100;
  const compact = Math.abs(value) >= 1e9;
  return `¥${value.toLocaleString(undefined, compact ? { notation: "compact", maximumFractionDigits: 1 } : { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

export function num(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return "–";
  // Forecast bounds can be astronomically large; compact notation keeps them readable.
  const compact = Math.abs(Number(value)) >= 1e7;
  return Number(value).toLocaleString(
    undefined,
    compact ? { notation: "compact", maximumFractionDigits: 1 } : { maximumFractionDigits: digits },
  );
}

export function pct(value) {
  if (value === null || value === undefined) return "–";
  return `${(Number(value) * 100).toFixed(1)}%`;
}

export function when(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  // The page's language (set by the app from the console's choice), not the browser's.
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString(document.documentElement.lang || undefined);
}

export function badge(text, kind = "") {
  return h("span", { class: `badge ${kind}` }, text);
}

/** Replaces `el`'s children with `children` (nested arrays flattened, text as text nodes). */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Appends `children` to `el` like h() does (nested arrays flattened, text as text nodes). */
export function add(el, ...children) {
  append(el, children);
  return el;
}

/**
 * Copies an input's value and says whether it worked: the clipboard where the page may use it (https,
 * localhost), else the selection copy (plain http on a LAN).
 */
export async function copyText(input) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(input.value);
      return true;
    } catch {
      // permission refused: fall through to the selection copy
    }
  }
  input.select();
  try {
    return document.execCommand("copy");
  } catch {
    return false;
  }
}
