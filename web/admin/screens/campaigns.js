// Campaign list: status, mode, window and key numbers from each campaign's stats.
import { api, query } from "../api.js";
import { add, badge, emptyState, h, num, select, table, when } from "../dom.js";
import { t } from "../i18n.js";
import { pager } from "../pager.js";

const STATUSES = ["", "draft", "active", "paused", "ended"];

export async function render(root, _params, ctx) {
  const status = select(
    STATUSES.map((s) => [s, s ? t(`status.${s}`) : t("common.all")]),
    "",
    { id: "campaign-status" },
  );
  const list = h("div", { "aria-live": "polite" });
  const listing = pager(
    list,
    (cursor) => api("GET", `/v1/admin/campaigns${query({ limit: 20, cursor, status: status.value })}`),
    draw,
  );

  add(
    root,
    h(
      "div",
      { class: "toolbar" },
      h("h1", {}, t("campaigns.title")),
      h("a", { href: "#/new", class: "button primary" }, t("campaigns.new")),
    ),
    h("div", { class: "filters" }, h("label", { for: "campaign-status" }, t("campaigns.filter_status")), status),
    list,
    listing.more,
  );

  function draw(rows) {
    if (!rows.length) {
      return emptyState(t("campaigns.empty"), h("a", { href: "#/new", class: "button primary" }, t("campaigns.new")));
    }
    const cells = new Map();
    const statCell = (row, key) => {
      const cell = h("span", { class: "num", dataset: { stat: key } }, "…");
      cells.set(`${row.campaign_id}:${key}`, cell);
      return cell;
    };
    const shown = table(
      [
        {
          label: t("campaigns.col_title"),
          cell: (r) =>
            h(
              "a",
              { href: r.status === "draft" ? `#/new/${r.campaign_id}` : `#/campaigns/${r.campaign_id}` },
              r.title || r.campaign_id,
            ),
        },
        { label: t("campaigns.col_status"), cell: (r) => badge(t(`status.${r.status}`), r.status) },
        { label: t("campaigns.col_mode"), cell: (r) => t(`mode.${r.mode}`) },
        { label: t("campaigns.col_window"), cell: (r) => `${when(r.starts_at)} → ${when(r.ends_at)}` },
        { label: t("stats.joins"), class: "num", cell: (r) => statCell(r, "join") },
        { label: t("stats.qualified"), class: "num", cell: (r) => statCell(r, "qualified") },
        { label: t("stats.rewards"), class: "num", cell: (r) => statCell(r, "rewards") },
        { label: t("stats.k"), class: "num", cell: (r) => statCell(r, "k") },
        {
          label: t("common.actions"),
          cell: (r) =>
            h(
              "a",
              { href: `#/campaigns/${r.campaign_id}`, "aria-label": `${t("campaigns.open")}: ${r.title}` },
              t("campaigns.open"),
            ),
        },
      ],
      rows,
    );
    // Key numbers: one stats read per listed campaign, filled in as they arrive.
    for (const row of rows) {
      api("GET", `/v1/admin/campaigns/${encodeURIComponent(row.campaign_id)}/stats`)
        .then((stats) => {
          const set = (key, text) => {
            const cell = cells.get(`${row.campaign_id}:${key}`);
            if (cell) cell.textContent = text;
          };
          set("join", num(stats.totals.join));
          set("qualified", num(stats.totals.qualified));
          set("rewards", num(stats.totals.rewards));
          set("k", num(stats.k_factor?.k_realised, 2));
        })
        .catch(() => {
          for (const key of ["join", "qualified", "rewards", "k"]) {
            const cell = cells.get(`${row.campaign_id}:${key}`);
            if (cell) cell.textContent = "–";
          }
        });
    }
    return shown;
  }

  status.addEventListener("change", () => listing.load(true));
  await listing.load(true);
  ctx.announce(t("campaigns.loaded", { n: listing.count() }));
}
