// Churn warning: the level distribution of the daily run, the highest risks with why, the model's weights
// and the calibration button with its result (docs/retention.md, "Churn warning").
import { api } from "../api.js";
import { add, badge, busy, emptyState, errorBox, fill, h, num, table, when } from "../dom.js";
import { t } from "../i18n.js";

const LEVELS = ["low", "medium", "high"];
const LEVEL_BADGE = { low: "active", medium: "warn", high: "failed" };

export async function render(root, _params, ctx) {
  const distribution = h("section", { class: "card", "aria-labelledby": "churn-distribution" });
  const top = h("section", { class: "card", "aria-labelledby": "churn-top" });
  const model = h("section", { class: "card stack", "aria-labelledby": "churn-weights" });
  const result = h("div", { class: "form-message", role: "status", "data-churn-result": "" });
  const calibrate = h("button", { type: "button", class: "primary" }, t("churn.calibrate"));
  add(root, h("h1", {}, t("churn.title")), h("p", { class: "hint" }, t("churn.intro")), distribution, top, model);

  function draw(view) {
    drawDistribution(distribution, view.distribution);
    drawTop(top, view.top);
    drawModel(model, view, calibrate, result);
  }

  calibrate.addEventListener("click", () =>
    busy(calibrate, async () => {
      fill(result);
      try {
        const answer = await api("POST", "/v1/admin/churn/calibrate");
        const record = answer.calibration;
        const text = record.calibrated
          ? t("churn.calibrated", {
              fitted: auc(record.auc_calibrated),
              default: auc(record.auc_default),
              examples: record.examples,
            })
          : t("churn.refused", { reason: record.reason });
        draw(await api("GET", "/v1/admin/churn"));
        fill(result, h("p", {}, text));
        ctx.announce(text);
      } catch (error) {
        fill(result, errorBox(error));
      }
    }),
  );

  draw(await api("GET", "/v1/admin/churn"));
}

function auc(value) {
  return value === null || value === undefined ? "–" : Number(value).toFixed(3);
}

function drawDistribution(box, d) {
  const heading = h("h2", { id: "churn-distribution" }, t("churn.distribution"));
  if (!d.total) {
    fill(box, heading, emptyState(t("churn.none")));
    return;
  }
  const bar = h(
    "div",
    { class: "churn-bar", role: "img", "aria-label": LEVELS.map((l) => `${t(`churn.level.${l}`)} ${d[l]}`).join(", ") },
    LEVELS.filter((l) => d[l]).map((l) =>
      h("span", { class: `churn-${l}`, style: { flex: String(d[l]) }, title: `${t(`churn.level.${l}`)}: ${d[l]}` }),
    ),
  );
  fill(
    box,
    heading,
    h("p", { class: "hint" }, t("churn.day", { day: d.day }), d.complete ? null : ` ${t("churn.partial")}`),
    h(
      "div",
      { class: "kpis" },
      [...LEVELS, "total"].map((l) =>
        h(
          "div",
          { class: "kpi", "data-level": l },
          h("span", { class: "label" }, t(l === "total" ? "churn.total" : `churn.level.${l}`)),
          h("strong", {}, num(d[l])),
        ),
      ),
    ),
    bar,
  );
}

function reason(part) {
  const sign = part.contribution > 0 ? "+" : "−";
  const raw = num(part.raw, part.feature === "recency" ? 0 : 1);
  return `${t(`churn.feature.${part.feature}`, { raw }, part.feature)} (${sign}${Math.abs(part.contribution).toFixed(1)})`;
}

function drawTop(box, people) {
  fill(
    box,
    h("h2", { id: "churn-top" }, t("churn.top")),
    table(
      [
        { label: t("churn.person"), cell: (p) => p.nickname || p.phone || p.uid },
        { label: t("churn.risk"), cell: (p) => `${Math.round(p.risk * 100)}%`, class: "num" },
        { label: t("churn.level"), cell: (p) => badge(t(`churn.level.${p.level}`), LEVEL_BADGE[p.level]) },
        {
          label: t("churn.why"),
          cell: (p) =>
            p.explanation
              .filter((part) => Math.abs(part.contribution) >= 0.05)
              .map(reason)
              .join("; "),
        },
        { label: t("churn.last_seen"), cell: (p) => when(p.last_seen) },
      ],
      people,
      t("churn.top_empty"),
    ),
  );
}

function drawModel(box, view, calibrate, result) {
  const weights = view.weights;
  const calibration = view.calibration;
  fill(
    box,
    h("h2", { id: "churn-weights" }, t("churn.weights")),
    h("p", { "data-weights": weights.source }, t(`churn.weights.${weights.source}`)),
    calibration
      ? h(
          "p",
          { class: "hint" },
          t("churn.last_calibration", { when: when(calibration.calibrated_at) }),
          " · ",
          t("churn.auc", { default: auc(calibration.auc_default), fitted: auc(calibration.auc_calibrated) }),
        )
      : null,
    h("p", { class: "hint" }, t("churn.calibrate_hint")),
    h("div", {}, calibrate),
    result,
  );
}
