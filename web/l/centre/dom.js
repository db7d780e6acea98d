// What every section of the participant centre builds with: elements from text only (nothing from the API is
// ever parsed as HTML) and dates in the campaign's time zone.
import { currentLang } from "../i18n.js";

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function when(iso, timeZone) {
  const locale = currentLang() === "en" ? "en-GB" : "zh-CN";
  const options = { dateStyle: "medium", timeStyle: "short" };
  try {
    return new Date(iso).toLocaleString(locale, { ...options, timeZone: timeZone || undefined });
  } catch {
    return new Date(iso).toLocaleString(locale, options);
  }
}

export function day(iso, timeZone) {
  const locale = currentLang() === "en" ? "en-GB" : "zh-CN";
  try {
    return new Date(iso).toLocaleDateString(locale, { dateStyle: "medium", timeZone: timeZone || undefined });
  } catch {
    return new Date(iso).toLocaleDateString(locale, { dateStyle: "medium" });
  }
}

// "+100" / "-30": the sign says which way the balance moved.
export function signed(n) {
  return n > 0 ? `+${n}` : String(n);
}
