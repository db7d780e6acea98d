// Membership tiers (会员等级): the tenant's ladder, edited whole and saved with one PUT. The page checks what it
// can before sending; the API's 422 messages land in the message box (docs/retention.md).
import { api } from "../api.js";
import { busy, errorBox, field, fill, h, loading, nextId, select } from "../dom.js";
import { t } from "../i18n.js";

const MEASURES = ["points_earned", "spend_fen", "qualified_invites"];
const MAX_TIERS = 10;

export async function render(root) {
  const body = h("div", {}, loading(t("common.loading")));
  fill(
    root,
    h("div", { class: "toolbar" }, h("h1", {}, t("tiers.title"))),
    h("p", { class: "hint" }, t("tiers.intro")),
    body,
  );
  try {
    fill(body, form(await api("GET", "/v1/admin/loyalty/tiers")));
  } catch (error) {
    fill(body, errorBox(error));
  }
}

function form(current) {
  const measure = select(
    MEASURES.map((m) => [m, t(`tiers.measure.${m}`)]),
    current.rules.measure,
    { id: nextId("tier-measure") },
  );
  const windowDays = number(current.rules.window_days);
  const graceDays = number(current.rules.grace_days);
  const rows = h("tbody", {});
  const status = h("p", { class: "hint", role: "status" }, t(current.configured ? "tiers.configured" : "tiers.unset"));
  const message = h("div", { class: "form-message", role: "alert" });
  const addRow = h("button", { type: "button" }, t("tiers.add"));
  const save = h("button", { type: "submit", class: "primary" }, t("common.save"));
  const show = (tiers) => {
    fill(rows, ...tiers.map((tier) => row(tier, rows)));
    renumber(rows);
  };
  show(current.rules.tiers);
  addRow.addEventListener("click", () => {
    if (rows.children.length >= MAX_TIERS) return;
    rows.append(row({ id: "", name: "", threshold: "", multiplier: 1 }, rows));
    renumber(rows);
  });
  const el = h(
    "form",
    { class: "stack", novalidate: true },
    status,
    h(
      "div",
      { class: "grid2" },
      field(t("tiers.measure"), measure),
      field(t("tiers.window_days"), windowDays, t("tiers.window_hint")),
      field(t("tiers.grace_days"), graceDays, t("tiers.grace_hint")),
    ),
    h(
      "table",
      { class: "tiers" },
      h("caption", {}, t("tiers.ladder")),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["tiers.id", "tiers.name", "tiers.threshold", "tiers.multiplier", "tiers.actions"].map((k) =>
            h("th", { scope: "col" }, t(k)),
          ),
        ),
      ),
      rows,
    ),
    h("div", { class: "actions" }, addRow, save),
    message,
  );
  el.addEventListener("submit", (event) => {
    event.preventDefault();
    fill(message);
    const { values, problems } = read(measure, windowDays, graceDays, rows);
    if (problems.length) {
      fill(
        message,
        h(
          "ul",
          {},
          problems.map((p) => h("li", {}, p)),
        ),
      );
      return;
    }
    busy(save, async () => {
      try {
        const saved = await api("PUT", "/v1/admin/loyalty/tiers", values);
        show(saved.rules.tiers);
        status.textContent = t("tiers.configured");
        fill(message, h("p", { class: "ok" }, t("tiers.saved")));
      } catch (error) {
        const details = (error.details?.errors || []).map((p) => h("li", {}, `${p.field}: ${p.message}`));
        fill(message, h("p", {}, `${error.message} (${error.code})`), details.length ? h("ul", {}, details) : null);
      }
    });
  });
  return el;
}

function number(value) {
  return h("input", { type: "text", inputmode: "numeric", autocomplete: "off", value: String(value ?? "") });
}

// Each input is labelled by its row's place ("Threshold of tier 2"), renumbered when rows come and go.
const LABELS = [
  ["tier-id", "tiers.row_id"],
  ["tier-name", "tiers.row_name"],
  ["tier-threshold", "tiers.row_threshold"],
  ["tier-multiplier", "tiers.row_multiplier"],
];

function renumber(rows) {
  [...rows.children].forEach((tr, i) => {
    for (const [cls, key] of LABELS) tr.querySelector(`.${cls}`).setAttribute("aria-label", t(key, { n: i + 1 }));
  });
}

function row(tier, rows) {
  const id = h("input", { type: "text", autocomplete: "off", value: tier.id, class: "tier-id" });
  const name = h("input", { type: "text", autocomplete: "off", value: tier.name, class: "tier-name" });
  const threshold = number(tier.threshold);
  threshold.classList.add("tier-threshold");
  const multiplier = h("input", {
    type: "text",
    inputmode: "decimal",
    autocomplete: "off",
    value: String(tier.multiplier ?? 1),
    class: "tier-multiplier",
  });
  const remove = h("button", { type: "button" }, t("common.delete"));
  const tr = h(
    "tr",
    {},
    [id, name, threshold, multiplier].map((input) => h("td", {}, input)),
    h("td", {}, remove),
  );
  remove.addEventListener("click", () => {
    tr.remove();
    renumber(rows);
  });
  return tr;
}

/** The ladder as the API takes it, or what is wrong with it before anything is sent. */
function read(measure, windowDays, graceDays, rows) {
  const problems = [];
  const whole = (input, label) => {
    const text = input.value.trim();
    if (!/^\d+$/.test(text)) problems.push(t("tiers.not_int", { label }));
    return Number(text);
  };
  const values = {
    measure: measure.value,
    window_days: whole(windowDays, t("tiers.window_days")),
    grace_days: whole(graceDays, t("tiers.grace_days")),
    tiers: [],
  };
  for (const tr of rows.children) {
    const get = (cls) => tr.querySelector(`.${cls}`).value.trim();
    const id = get("tier-id");
    const label = id || t("tiers.unnamed");
    if (!/^[a-z0-9_]{1,32}$/.test(id)) problems.push(t("tiers.bad_id", { label }));
    const multiplier = get("tier-multiplier");
    if (!/^\d+(\.\d{1,2})?$/.test(multiplier)) problems.push(t("tiers.bad_multiplier", { label }));
    values.tiers.push({
      id,
      name: get("tier-name"),
      threshold: whole(tr.querySelector(".tier-threshold"), t("tiers.threshold")),
      multiplier: Number(multiplier),
    });
  }
  return { values, problems };
}
