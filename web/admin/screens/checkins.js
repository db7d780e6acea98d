// The daily check-in programme (每日签到): the reward ladder per day of a streak, its cycle and the make-up cards,
// replaced whole (PUT /v1/admin/loyalty/checkins); the API's 422 message shows under the form.
import { api } from "../api.js";
import { add, busy, errorBox, field, fill, h, loading, nextId } from "../dom.js";
import { t } from "../i18n.js";

export async function render(root, _params, ctx) {
  const body = h("div", {}, loading(t("common.loading")));
  add(
    root,
    h("div", { class: "toolbar" }, h("h1", {}, t("checkins.title"))),
    h("p", { class: "hint" }, t("checkins.intro")),
    body,
  );
  try {
    fill(body, form(await api("GET", "/v1/admin/loyalty/checkins"), ctx));
  } catch (error) {
    fill(body, errorBox(error));
  }
}

function number(value, attrs = {}) {
  return h("input", { type: "number", min: "0", step: "1", inputmode: "numeric", value: String(value), ...attrs });
}

function ladderRow(step, onRemove) {
  const day = number(step.day, { min: "1", "aria-label": t("checkins.day") });
  const points = number(step.points || 0, { "aria-label": t("checkins.points") });
  const coupon = h("input", { type: "text", value: step.coupon?.name || "", "aria-label": t("checkins.coupon") });
  const value = h("input", {
    type: "text",
    inputmode: "decimal",
    value: step.coupon ? (step.coupon.value_fen / 100).toFixed(2) : "",
    "aria-label": t("checkins.coupon_value"),
  });
  const remove = h("button", { type: "button" }, t("checkins.remove"));
  const row = h(
    "tr",
    { "data-ladder-row": "" },
    [day, points, coupon, value, remove].map((c) => h("td", {}, c)),
  );
  remove.addEventListener("click", () => onRemove(row));
  row.read = () => {
    const step = { day: Number(day.value), points: Number(points.value || 0) };
    if (coupon.value.trim()) {
      step.coupon = { name: coupon.value.trim(), value_fen: Math.round(Number(value.value || 0) * 100) };
    }
    return step;
  };
  return row;
}

function form(current, ctx) {
  const settings = current.settings;
  const status = h("p", { class: "hint", role: "status" }, t(current.configured ? "checkins.set" : "checkins.unset"));
  const enabled = h("input", { type: "checkbox", id: nextId("checkins-enabled"), checked: settings.enabled });
  const cycle = number(settings.cycle_days, { min: "1", max: "31" });
  const cards = number(settings.makeup_cards_per_month, { max: "31" });
  const window = number(settings.makeup_window_days, { min: "1", max: "31" });
  const rows = h("tbody", {});
  const removeRow = (row) => row.remove();
  for (const step of settings.ladder) add(rows, ladderRow(step, removeRow));
  const more = h("button", { type: "button" }, t("checkins.add_day"));
  more.addEventListener("click", () => {
    const next = rows.children.length + 1;
    add(rows, ladderRow({ day: next, points: 10 }, removeRow));
  });
  const message = h("div", { class: "form-message", role: "alert" });
  const save = h("button", { type: "submit", class: "primary" }, t("common.save"));
  const el = h(
    "form",
    { class: "card stack", novalidate: true },
    status,
    h("label", { class: "check" }, enabled, t("checkins.enabled")),
    h(
      "div",
      { class: "grid2" },
      field(t("checkins.cycle_days"), cycle, t("checkins.cycle_hint")),
      field(t("checkins.cards"), cards, t("checkins.cards_hint")),
      field(t("checkins.window"), window, t("checkins.window_hint")),
    ),
    h("h2", {}, t("checkins.ladder")),
    h("p", { class: "hint" }, t("checkins.ladder_hint")),
    h(
      "table",
      { class: "ladder" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["day", "points", "coupon", "coupon_value", "actions"].map((k) => h("th", {}, t(`checkins.${k}`))),
        ),
      ),
      rows,
    ),
    h("div", { class: "actions" }, more, save),
    message,
  );
  el.addEventListener("submit", (event) => {
    event.preventDefault();
    fill(message);
    const values = {
      enabled: enabled.checked,
      cycle_days: Number(cycle.value),
      makeup_cards_per_month: Number(cards.value),
      makeup_window_days: Number(window.value),
      ladder: [...rows.children].map((row) => row.read()),
    };
    busy(save, async () => {
      try {
        await api("PUT", "/v1/admin/loyalty/checkins", values);
        status.textContent = t("checkins.set");
        ctx.announce(t("checkins.saved"));
        fill(message, h("p", { class: "ok" }, t("checkins.saved")));
      } catch (error) {
        const problems = (error.details?.errors || []).map((p) => h("li", {}, p.message));
        fill(message, h("p", { class: "error-box" }, `${error.message} (${error.code})`), h("ul", {}, problems));
      }
    });
  });
  return el;
}
