// The growth dashboard: the last 30 days' KPI tiles with the quarter's progress against its targets, CAC by
// channel, the weekly cohort table as a heat map (the numbers stay in the cells), and the targets form for
// those who may set them. Definitions: docs/retention.md.
import { api } from "../api.js";
import { busy, errorBox, field, fill, h, loading, num, yuan } from "../dom.js";
import { t } from "../i18n.js";

const TARGETS = ["new_users", "retention_30d_pct", "paid_conversion_pct", "monthly_active"];
const MANAGERS = ["owner", "operator"];

export async function render(root, _params, ctx) {
  const kpis = h("div", {}, loading(t("common.loading")));
  const cohorts = h("div", {}, loading(t("common.loading")));
  const targets = h("div");
  fill(
    root,
    h(
      "div",
      { class: "stack" },
      h("h1", {}, t("growth.title")),
      h("p", { class: "hint" }, t("growth.intro")),
      kpis,
      h(
        "section",
        { class: "card stack", "aria-labelledby": "growth-cohorts-title" },
        h("h2", { id: "growth-cohorts-title" }, t("growth.cohorts")),
        h("p", { class: "hint" }, t("growth.cohorts_hint")),
        cohorts,
      ),
      targets,
    ),
  );
  const load = async () => {
    try {
      const [report, table] = await Promise.all([
        api("GET", "/v1/admin/growth"),
        api("GET", "/v1/admin/growth/cohorts"),
      ]);
      fill(kpis, tiles(report), channels(report.channels));
      fill(cohorts, heatmap(table));
      if (MANAGERS.includes(ctx.session?.role)) fill(targets, form(report.quarter, ctx, load));
    } catch (error) {
      fill(kpis, errorBox(error));
      fill(cohorts);
    }
  };
  await load();
}

function percent(value) {
  return value === null || value === undefined ? "–" : `${value}%`;
}

function tile(label, value, sub) {
  return h(
    "div",
    { class: "kpi" },
    h("span", { class: "label" }, label),
    h("strong", {}, value),
    sub ? h("span", { class: "label" }, sub) : null,
  );
}

function tiles(report) {
  const { totals, quarter } = report;
  const lastMonth = report.months.at(-1);
  const range = h(
    "div",
    { class: "kpis", "aria-label": t("growth.range", { from: report.from, to: report.to }) },
    tile(t("growth.new"), num(totals.new)),
    tile(t("growth.activation"), percent(totals.activation_pct), `${totals.activated} / ${totals.new}`),
    tile(t("growth.conversion"), percent(totals.paid_conversion_pct), `${totals.paid} / ${totals.new}`),
    tile(t("growth.mau"), num(lastMonth ? lastMonth.active : 0), lastMonth ? lastMonth.month : ""),
  );
  const goal = quarter.target || {};
  const actual = quarter.actual;
  const shown = {
    new_users: num(actual.new_users),
    retention_30d_pct: percent(actual.retention_30d_pct),
    paid_conversion_pct: percent(actual.paid_conversion_pct),
    monthly_active: num(actual.monthly_active),
  };
  const wanted = (key) => (key.endsWith("_pct") ? percent(goal[key]) : num(goal[key]));
  const progress = h(
    "section",
    { class: "card stack", "aria-labelledby": "growth-quarter-title" },
    h("h2", { id: "growth-quarter-title" }, t("growth.quarter", { q: quarter.quarter })),
    h(
      "div",
      { class: "kpis" },
      TARGETS.map((key) => {
        const done = quarter.progress_pct[key];
        const sub =
          goal[key] === null || goal[key] === undefined
            ? t("growth.no_target")
            : t("growth.of_target", { target: wanted(key), pct: percent(done) });
        const bar = h("progress", { max: 100, value: Math.min(done ?? 0, 100), "aria-label": t(`growth.t.${key}`) });
        return h(
          "div",
          { class: "kpi", dataset: { target: key } },
          h("span", { class: "label" }, t(`growth.t.${key}`)),
          h("strong", {}, shown[key]),
          h("span", { class: "label" }, sub),
          bar,
        );
      }),
    ),
  );
  return [range, progress];
}

function channels(rows) {
  if (!rows.length) return null;
  const table = h(
    "table",
    { class: "table", "aria-labelledby": "growth-cac-title" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        [t("growth.channel"), t("growth.new"), t("growth.cost"), t("growth.cac_one")].map((c, i) =>
          h("th", { scope: "col", class: i ? "num" : null }, c),
        ),
      ),
    ),
    h(
      "tbody",
      {},
      rows.map((r) =>
        h(
          "tr",
          {},
          h("td", {}, r.channel || t("growth.direct")),
          h("td", { class: "num" }, num(r.new)),
          h("td", { class: "num" }, yuan(r.reward_cost_fen)),
          h("td", { class: "num" }, yuan(r.cac_fen)),
        ),
      ),
    ),
  );
  return h(
    "section",
    { class: "card stack" },
    h("h2", { id: "growth-cac-title" }, t("growth.cac")),
    h("div", { class: "scroll" }, table),
  );
}

// A cell's colour from its share: white at 0 % to a saturated green at 100 %, dark text on light cells.
function shade(pct) {
  const p = Math.max(0, Math.min(100, pct ?? 0));
  return { background: `hsl(145, 60%, ${96 - p * 0.6}%)`, color: p > 55 ? "#fff" : "inherit" };
}

function heatmap(table) {
  const rows = table.rows.filter((r) => r.size > 0);
  if (!rows.length) return h("p", { class: "hint" }, t("growth.no_cohorts"));
  const weeks = Array.from({ length: table.weeks + 1 }, (_, k) => k);
  const head = h(
    "tr",
    {},
    h("th", { scope: "col" }, t("growth.cohort")),
    h("th", { scope: "col" }, t("growth.size")),
    weeks.map((k) => h("th", { scope: "col" }, t("growth.week", { k }))),
    h("th", { scope: "col" }, t("growth.r30")),
  );
  const body = rows.map((row) =>
    h(
      "tr",
      { dataset: { cohort: row.cohort } },
      h("th", { scope: "row" }, row.cohort, h("br"), h("small", {}, row.starts)),
      h("td", { class: "num" }, num(row.size)),
      row.weeks.map((cell) =>
        cell === null
          ? h("td", { class: "heat empty" }, "")
          : h(
              "td",
              { class: "heat num", style: shade(cell.pct), title: `${cell.active} / ${row.size}` },
              `${cell.pct}%`,
              h("br"),
              h("small", {}, String(cell.active)),
            ),
      ),
      h(
        "td",
        {
          class: "heat num",
          style: shade(row.retention_30d.pct),
          title: `${row.retention_30d.retained} / ${row.size}`,
        },
        `${percent(row.retention_30d.pct)}${row.retention_30d.final ? "" : "*"}`,
        h("br"),
        h("small", {}, String(row.retention_30d.retained)),
      ),
    ),
  );
  return h(
    "div",
    { class: "stack" },
    h(
      "div",
      { class: "scroll" },
      h(
        "table",
        { class: "table heatmap", "aria-label": t("growth.cohorts") },
        h("thead", {}, head),
        h("tbody", {}, body),
      ),
    ),
    h("p", { class: "hint" }, t("growth.partial")),
  );
}

function form(quarter, ctx, reload) {
  const goal = quarter.target || {};
  const q = h("input", { type: "text", value: quarter.quarter, autocomplete: "off", pattern: "[0-9]{4}Q[1-4]" });
  const inputs = Object.fromEntries(
    TARGETS.map((key) => [
      key,
      h("input", { type: "text", inputmode: "numeric", autocomplete: "off", value: goal[key] ?? "" }),
    ]),
  );
  const wraps = Object.fromEntries(TARGETS.map((key) => [key, field(t(`growth.t.${key}`), inputs[key])]));
  const quarterField = field(t("growth.quarter_field"), q, t("growth.quarter_hint"));
  const message = h("div", { class: "form-message", role: "alert" });
  const save = h("button", { type: "submit", class: "primary" }, t("common.save"));
  const el = h(
    "form",
    { class: "stack", novalidate: true },
    quarterField,
    h(
      "div",
      { class: "grid2" },
      TARGETS.map((key) => wraps[key]),
    ),
    h("div", { class: "actions" }, save),
    message,
  );
  el.addEventListener("submit", (event) => {
    event.preventDefault();
    fill(message);
    const body = { quarter: q.value.trim() };
    for (const key of TARGETS) {
      wraps[key].setError("");
      const text = inputs[key].value.trim();
      if (!text) continue;
      if (!/^\d+$/.test(text)) return wraps[key].setError(t("growth.not_int"));
      body[key] = Number(text);
    }
    busy(save, async () => {
      try {
        await api("PUT", "/v1/admin/growth/targets", body);
        ctx.announce(t("growth.saved"));
        await reload();
      } catch (error) {
        fill(message, h("p", {}, `${error.message} (${error.code})`));
      }
    });
  });
  return h(
    "section",
    { class: "card stack", "aria-labelledby": "growth-targets-title" },
    h("h2", { id: "growth-targets-title" }, t("growth.targets")),
    el,
  );
}
