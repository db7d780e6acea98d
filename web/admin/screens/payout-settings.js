// The payout policy form (a section of the payouts screen, for the owner): amounts in yuan on screen and
// in fen on the wire, replaced whole with a TOTP step-up; the API's 422 messages land next to their fields.
import { api } from "../api.js";
import { busy, errorBox, field, fill, h, loading, nextId, when, yuan } from "../dom.js";
import { t } from "../i18n.js";

// The policy's fields and their defaults, mirroring `PayoutSettings` in chalicelib/payouts/rules/policy.py
// (the API lists them only as the current values, so a set policy could not be reset without them).
const METHODS = ["wechat", "alipay", "bank"];
const FIELDS = [
  ["min_withdraw_fen", "yuan", 100],
  ["fee_bp", "int", 0],
  ["fee_fixed_fen", "yuan", 0],
  ["fee_min_fen", "yuan", 0],
  ["daily_amount_fen", "yuan", null],
  ["daily_count", "int", null],
  ["monthly_amount_fen", "yuan", null],
  ["monthly_count", "int", null],
  ["auto_approve_max_fen", "yuan", 0],
  ["min_paying_referrals", "int", 0],
  ["refund_rate_hold_bp", "int", 3000],
  ["refund_rate_min_orders", "int", 5],
];
export const DEFAULTS = { enabled: true, methods: METHODS, ...Object.fromEntries(FIELDS.map(([k, , d]) => [k, d])) };

export function settingsSection(ctx) {
  const body = h("div", {}, loading(t("common.loading")));
  const section = h(
    "section",
    { class: "card stack", "aria-labelledby": "payout-settings-title" },
    h("h2", { id: "payout-settings-title" }, t("payouts.settings")),
    h("p", { class: "hint" }, t("payouts.settings_intro")),
    body,
  );
  api("GET", "/v1/admin/payouts/settings")
    .then((current) => fill(body, form(current, ctx)))
    .catch((error) => fill(body, errorBox(error)));
  return section;
}

function form(current, ctx) {
  const status = h("p", { class: "hint", role: "status" }, describe(current));
  const enabled = h("input", { type: "checkbox", id: nextId("payout-enabled") });
  const inputs = Object.fromEntries(FIELDS.map(([key, kind]) => [key, input(kind)]));
  const wraps = Object.fromEntries(
    FIELDS.map(([key, kind, d]) => [key, field(label(key, kind), inputs[key], hint(key, kind, d))]),
  );
  const boxes = METHODS.map((m) => h("input", { type: "checkbox", value: m, id: nextId("payout-method") }));
  const methodsError = h("p", { class: "field-error", id: nextId("payout-methods-error"), "aria-live": "polite" });
  const message = h("div", { class: "form-message", role: "alert" });
  const save = h("button", { type: "submit", class: "primary" }, t("common.save"));
  const reset = h("button", { type: "button" }, t("payouts.set.defaults"));
  const show = (values) => {
    enabled.checked = values.enabled;
    for (const [key, kind] of FIELDS) inputs[key].value = shown(kind, values[key]);
    for (const box of boxes) box.checked = values.methods.includes(box.value);
  };
  show(current.settings);
  reset.addEventListener("click", () => show(DEFAULTS));
  const el = h(
    "form",
    { class: "stack", novalidate: true },
    status,
    h("label", { class: "check" }, enabled, t("payouts.set.enabled")),
    h(
      "div",
      { class: "grid2" },
      FIELDS.map(([key]) => wraps[key]),
    ),
    h(
      "fieldset",
      { class: "stack", "aria-describedby": methodsError.id },
      h("legend", {}, t("payouts.set.methods")),
      h(
        "div",
        { class: "checks" },
        boxes.map((box) => h("label", { class: "check" }, box, t(`payouts.m_${box.value}`))),
      ),
      methodsError,
    ),
    h("div", { class: "actions" }, save, reset),
    message,
  );
  const setError = (key, text) => {
    if (key === "methods") methodsError.textContent = text;
    else wraps[key]?.setError(text);
  };
  el.addEventListener("submit", (event) => {
    event.preventDefault();
    fill(message);
    for (const key of [...Object.keys(wraps), "methods"]) setError(key, "");
    const { values, problems } = read(inputs, enabled, boxes);
    for (const [key, text] of problems) setError(key, text);
    if (problems.length) return;
    busy(save, async () => {
      try {
        const saved = await api("PUT", "/v1/admin/payouts/settings", values);
        show(saved.settings);
        status.textContent = describe(saved);
        ctx.announce(t("payouts.set.saved"));
        fill(message, h("p", { class: "ok" }, t("payouts.set.saved")));
      } catch (error) {
        fill(message, h("p", {}, `${error.message} (${error.code})`));
        for (const problem of error.details?.errors || []) {
          const key = String(problem.field || "").split(".")[0];
          if (key in wraps || key === "methods") setError(key, problem.message);
        }
      }
    });
  });
  return el;
}

function input(kind) {
  return h("input", { type: "text", inputmode: kind === "yuan" ? "decimal" : "numeric", autocomplete: "off" });
}

function label(key, kind) {
  return kind === "yuan" ? t("payouts.set.in_yuan", { label: t(`payouts.set.${key}`) }) : t(`payouts.set.${key}`);
}

function hint(key, kind, value) {
  if (value === null) return t("payouts.set.default_none");
  const text = t("payouts.set.default", { value: kind === "yuan" ? yuan(value) : String(value) });
  return key === "auto_approve_max_fen" ? `${text} ${t("payouts.set.auto_note")}` : text;
}

function shown(kind, value) {
  if (value === null || value === undefined) return "";
  return kind === "yuan" ? (value / 100).toFixed(2) : String(value);
}

/** The form's values as the API takes them, or what is wrong with them before anything is sent. */
function read(inputs, enabled, boxes) {
  const values = { enabled: enabled.checked, methods: boxes.filter((b) => b.checked).map((b) => b.value) };
  const problems = [];
  for (const [key, kind, fallback] of FIELDS) {
    const text = inputs[key].value.trim();
    if (!text) {
      if (fallback === null) values[key] = null;
      else problems.push([key, t("payouts.set.required")]);
    } else if (kind === "yuan" && /^\d+(\.\d{1,2})?$/.test(text)) {
      const [whole, cents = ""] = text.split(".");
      values[key] = Number(whole) * 100 + Number(cents.padEnd(2, "0"));
    } else if (kind === "int" && /^\d+$/.test(text)) {
      values[key] = Number(text);
    } else {
      problems.push([key, t(kind === "yuan" ? "payouts.set.not_yuan" : "payouts.set.not_int")]);
    }
  }
  if (!values.methods.length) problems.push(["methods", t("payouts.set.methods_needed")]);
  return { values, problems };
}

function describe(current) {
  if (!current.configured) return t("payouts.set.unset");
  return t("payouts.set.version", { v: current.version, when: when(current.updated_at), who: current.updated_by });
}
