// One campaign: key numbers, funnel and daily charts, channels, K-factor, cycle time, ROI, forecast,
// leaderboard, A/B results (GET .../stats), the referral tree, coupon code pools and the lifecycle.
import { api, query } from "../api.js";
import { chart, dispose } from "../charts.js";
import {
  add,
  badge,
  busy,
  clear,
  emptyState,
  errorBox,
  field,
  fill,
  h,
  loading,
  num,
  pct,
  table,
  when,
  yuan,
} from "../dom.js";
import { t } from "../i18n.js";

const REFRESH_MS = 5000;

export async function render(root, params, ctx) {
  const cid = params[0];
  const path = `/v1/admin/campaigns/${encodeURIComponent(cid)}`;
  let campaign = await api("GET", path);
  const header = h("div", { class: "toolbar" });
  const lifecycle = h("div", { class: "form-message", role: "alert" });
  const kpis = h("div", { class: "kpis", "aria-live": "polite" });
  const funnelEl = h("div", { class: "chart", role: "img", "aria-label": t("dash.funnel") });
  const seriesEl = h("div", { class: "chart", role: "img", "aria-label": t("dash.series") });
  const funnelText = h("div", {});
  const channels = h("div", {});
  const forecast = h("div", {});
  const leaders = h("div", {});
  const experiments = h("div", {});
  const generations = h("div", {});
  const updated = h("p", { class: "hint", role: "status" });
  const auto = h("input", { type: "checkbox", id: "auto-refresh", checked: true });

  add(
    root,
    header,
    lifecycle,
    h(
      "div",
      { class: "toolbar small" },
      updated,
      h("span", {}, auto, " ", h("label", { for: "auto-refresh" }, t("dash.auto_refresh"))),
      h("button", { type: "button", onclick: () => refresh().catch(showError) }, t("common.refresh")),
    ),
    kpis,
    h(
      "div",
      { class: "grid2" },
      h("section", { class: "card" }, h("h2", {}, t("dash.funnel")), funnelEl, funnelText),
      h("section", { class: "card" }, h("h2", {}, t("dash.series")), seriesEl),
    ),
    h(
      "div",
      { class: "grid2" },
      h("section", { class: "card" }, h("h2", {}, t("dash.channels")), channels),
      h("section", { class: "card" }, h("h2", {}, t("dash.forecast")), forecast),
    ),
    h(
      "div",
      { class: "grid2" },
      h("section", { class: "card" }, h("h2", {}, t("dash.leaderboard")), leaders),
      h("section", { class: "card" }, h("h2", {}, t("dash.generations")), generations),
    ),
    h("section", { class: "card" }, h("h2", {}, t("dash.experiments")), experiments),
    treeSection(cid),
    poolSection(cid),
  );

  function drawHeader() {
    const act = (action, label, cls = "") => {
      const button = h("button", { type: "button", class: cls, dataset: { action } }, label);
      button.addEventListener("click", () =>
        busy(button, async () => {
          if (action === "end" && !window.confirm(t("dash.confirm_end"))) return;
          clear(lifecycle);
          try {
            campaign = await api("POST", `${path}/${action}`);
            ctx.announce(t(`status.${campaign.status}`));
            drawHeader();
          } catch (error) {
            add(lifecycle, h("p", {}, `${error.message} (${error.code})`));
          }
        }),
      );
      return button;
    };
    const landing = new URL(`../l/?campaign=${encodeURIComponent(cid)}`, location.href).href;
    fill(
      header,
      h(
        "div",
        {},
        h("h1", {}, campaign.title),
        h(
          "p",
          {},
          badge(t(`status.${campaign.status}`), campaign.status),
          " ",
          t(`mode.${campaign.mode}`),
          " · ",
          when(campaign.starts_at),
          " → ",
          when(campaign.ends_at),
          " · ",
          h("a", { href: landing, target: "_blank", rel: "noopener" }, t("dash.landing")),
        ),
      ),
      h(
        "div",
        { class: "actions" },
        campaign.status === "draft" ? h("a", { class: "button", href: `#/new/${cid}` }, t("dash.edit")) : null,
        campaign.status === "active" ? act("pause", t("dash.pause")) : null,
        campaign.status === "paused" ? act("publish", t("dash.resume"), "primary") : null,
        ["active", "paused"].includes(campaign.status) ? act("end", t("dash.end"), "danger") : null,
      ),
    );
  }

  function kpi(key, label, value, hint) {
    return h(
      "div",
      { class: "kpi", dataset: { kpi: key } },
      h("span", { class: "label" }, label),
      h("strong", {}, value),
      hint ? h("span", { class: "hint" }, hint) : null,
    );
  }

  function draw(stats) {
    const tot = stats.totals;
    const k = stats.k_factor || {};
    const cycle = stats.cycle_time_minutes || {};
    const roi = stats.roi || {};
    fill(
      kpis,
      kpi("join", t("stats.joins"), num(tot.join)),
      kpi("invited_join", t("stats.invited_joins"), num(tot.invited_join)),
      kpi("qualified", t("stats.qualified"), num(tot.qualified)),
      kpi("rewards", t("stats.rewards"), num(tot.rewards), yuan(tot.reward_cost_fen)),
      kpi("k", t("stats.k"), num(k.k_realised, 2), `${t("stats.k_sent")} ${num(k.k_sent, 2)}`),
      kpi(
        "cycle",
        t("stats.cycle"),
        cycle.median === null || cycle.median === undefined ? "–" : t("dash.minutes", { n: num(cycle.median) }),
        `p90 ${num(cycle.p90)} · n=${num(cycle.samples)}`,
      ),
      kpi(
        "roi",
        t("stats.roi"),
        roi.roi === null || roi.roi === undefined ? "–" : pct(roi.roi),
        `${t("stats.cost")} ${yuan(roi.cost_fen)} · ${t("stats.revenue")} ${yuan(roi.attributed_revenue_fen)}`,
      ),
      kpi("converted", t("stats.converted"), num(tot.converted), yuan(tot.revenue_fen)),
    );
    const steps = stats.funnel || [];
    // Steps in funnel order as bars: the counts need not shrink step by step (views come from beacons
    // a merchant's own page may not send), which a funnel shape would hide.
    chart(funnelEl, {
      tooltip: { trigger: "axis" },
      grid: { left: 90, right: 40, top: 8, bottom: 24 },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", inverse: true, data: steps.map((s) => t(`funnel.${s.step}`)) },
      series: [
        {
          type: "bar",
          data: steps.map((s) => s.count),
          label: { show: true, position: "right" },
          itemStyle: { color: "#c2410c" },
        },
      ],
    }).catch(() => {});
    fill(
      funnelText,
      table(
        [
          { label: t("dash.step"), cell: (s) => t(`funnel.${s.step}`) },
          { label: t("dash.count"), class: "num", cell: (s) => num(s.count) },
          { label: t("dash.rate"), class: "num", cell: (s) => pct(s.rate) },
        ],
        steps,
      ),
    );
    const series = stats.series || [];
    const metrics = ["view", "join", "share", "qualified", "converted"];
    chart(seriesEl, {
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 40, right: 16, top: 36, bottom: 28 },
      xAxis: { type: "category", data: series.map((p) => p.period) },
      yAxis: { type: "value", minInterval: 1 },
      series: metrics.map((m) => ({
        name: t(`funnel.${m}`),
        type: "line",
        smooth: true,
        showSymbol: false,
        data: series.map((p) => p[m] || 0),
      })),
    }).catch(() => {});
    fill(
      channels,
      table(
        [
          { label: t("dash.channel"), cell: (c) => (c.channel === null ? t("dash.direct") : c.channel) },
          { label: t("funnel.share"), class: "num", cell: (c) => num(c.shares) },
          { label: t("funnel.click"), class: "num", cell: (c) => num(c.clicks) },
          { label: t("funnel.join"), class: "num", cell: (c) => num(c.joins) },
          { label: t("funnel.converted"), class: "num", cell: (c) => num(c.conversions) },
          { label: t("stats.revenue"), class: "num", cell: (c) => yuan(c.revenue_fen) },
        ],
        stats.channels || [],
        t("dash.no_channels"),
      ),
    );
    const f = stats.forecast || {};
    fill(
      forecast,
      f.available
        ? h(
            "dl",
            { class: "facts" },
            h("dt", {}, t("dash.f_participants")),
            h(
              "dd",
              {},
              `${num(f.projected_participants?.expected)} (${num(f.projected_participants?.low)}–${num(f.projected_participants?.high)})`,
            ),
            h("dt", {}, t("dash.f_spend")),
            h(
              "dd",
              {},
              `${yuan(f.projected_spend_fen?.expected)} (${yuan(f.projected_spend_fen?.low)}–${yuan(f.projected_spend_fen?.high)})`,
            ),
            h("dt", {}, t("stats.k")),
            h("dd", {}, `${num(f.k, 2)} (${num(f.k_low, 2)}–${num(f.k_high, 2)})`),
            h("dt", {}, t("dash.f_budget")),
            h(
              "dd",
              {},
              f.budget_fen ? `${yuan(f.budget_fen)}${f.over_budget ? ` · ${t("dash.over_budget")}` : ""}` : "–",
            ),
            h("dt", {}, t("dash.f_saturated")),
            h("dd", {}, f.saturated ? t("common.yes") : t("common.no")),
          )
        : emptyState(t("dash.no_forecast")),
    );
    fill(
      leaders,
      table(
        [
          { label: "#", class: "num", cell: (r) => num(r.rank) },
          { label: t("dash.nickname"), cell: (r) => r.nickname || "–" },
          { label: t("dash.code"), cell: (r) => h("code", {}, r.code) },
          { label: t("dash.score"), class: "num", cell: (r) => num(r.score) },
        ],
        stats.top_inviters || [],
        t("dash.no_leaders"),
      ),
    );
    fill(
      generations,
      table(
        [
          { label: t("dash.depth"), class: "num", cell: (g) => num(g.depth) },
          { label: t("dash.participants"), class: "num", cell: (g) => num(g.participants) },
        ],
        stats.generations || [],
        t("dash.no_generations"),
      ),
    );
    const exp = stats.experiments || {};
    fill(
      experiments,
      exp.variants?.length
        ? h(
            "div",
            {},
            table(
              [
                { label: t("dash.variant"), cell: (v) => v.variant },
                { label: t("dash.participants"), class: "num", cell: (v) => num(v.participants) },
                {
                  label: t("dash.activation"),
                  class: "num",
                  cell: (v) => `${num(v.activated)} (${pct(v.activation_rate)})`,
                },
                {
                  label: t("dash.conversion"),
                  class: "num",
                  cell: (v) => `${num(v.converted)} (${pct(v.conversion_rate)})`,
                },
              ],
              exp.variants,
            ),
            table(
              [
                { label: t("dash.variant"), cell: (c) => `${c.variant} vs ${c.baseline}` },
                { label: t("dash.activation"), class: "num", cell: (c) => testText(c.activation_test) },
                { label: t("dash.conversion"), class: "num", cell: (c) => testText(c.conversion_test) },
                {
                  label: t("dash.note"),
                  cell: (c) => (c.warning ? t("dash.small_sample", { n: exp.min_sample }) : ""),
                },
              ],
              exp.comparisons || [],
            ),
          )
        : emptyState(t("dash.no_experiments")),
    );
    updated.textContent = t("dash.updated", { time: new Date().toLocaleTimeString() });
  }

  function testText(test) {
    if (!test || test.diff === null || test.diff === undefined) return "–";
    const p = test.p_value ?? test.p;
    return `Δ ${pct(test.diff)} · z ${num(test.z, 2)} · p ${num(p, 3)}`;
  }

  function showError(error) {
    updated.textContent = `${error.message} (${error.code})`;
  }

  async function refresh() {
    draw(await api("GET", `${path}/stats`));
  }

  drawHeader();
  add(kpis, loading(t("common.loading")));
  await refresh();
  const timer = setInterval(() => {
    if (auto.checked && document.visibilityState === "visible") refresh().catch(showError);
  }, REFRESH_MS);
  return () => {
    clearInterval(timer);
    dispose(funnelEl);
    dispose(seriesEl);
  };
}

function treeSection(cid) {
  const base = `/v1/admin/campaigns/${encodeURIComponent(cid)}/tree`;
  const list = h("div", { "aria-live": "polite" });
  const more = h("button", { type: "button", hidden: true }, t("common.more"));
  const rootInput = h("input", { type: "text", name: "root", placeholder: "abcd1234" });
  let cursor = null;
  const section = h(
    "section",
    { class: "card" },
    h("h2", {}, t("tree.title")),
    h("p", { class: "hint" }, t("tree.hint")),
    h(
      "form",
      {
        class: "inline",
        onsubmit: (e) => {
          e.preventDefault();
          openRoot(rootInput.value.trim());
        },
      },
      field(t("tree.root_code"), rootInput),
      h("button", { type: "submit" }, t("tree.open")),
      h("button", { type: "button", onclick: () => loadRoots(true) }, t("tree.roots")),
    ),
    list,
    more,
  );
  more.addEventListener("click", () => loadRoots(false));

  function nodeLabel(node) {
    return h(
      "span",
      {},
      h("code", {}, node.code),
      ` ${node.nickname || ""} · `,
      t("tree.counted", { n: node.counted }),
      node.qualified ? "" : ` · ${t("tree.unqualified")}`,
      ` · ${when(node.joined_at)}`,
    );
  }

  function nodeItem(node) {
    const children = h("ul", {});
    const item = h("li", {});
    if (node.counted > 0 || node.children?.length) {
      const details = h("details", {}, h("summary", {}, nodeLabel(node)), children);
      details.addEventListener("toggle", async () => {
        if (!details.open || details.dataset.loaded) return;
        details.dataset.loaded = "1";
        if (node.children?.length) {
          add(children, ...node.children.map(nodeItem));
          return;
        }
        add(children, h("li", {}, loading(t("common.loading"))));
        try {
          const sub = await api("GET", `${base}${query({ root: node.code, depth: 1 })}`);
          fill(children, (sub.root.children || []).map(nodeItem));
          if (!sub.root.children?.length) add(children, h("li", { class: "muted" }, t("tree.no_children")));
        } catch (error) {
          fill(children, errorBox(error, { tag: "li", alert: false }));
        }
      });
      add(item, details);
    } else add(item, nodeLabel(node));
    return item;
  }

  async function loadRoots(reset) {
    if (reset) {
      cursor = null;
      fill(list, loading(t("common.loading")));
    }
    try {
      const page = await api("GET", `${base}${query({ cursor, limit: 20 })}`);
      if (reset) clear(list);
      if (!page.items.length && reset) add(list, emptyState(t("tree.empty")));
      else add(list, h("ul", { class: "tree" }, page.items.map(nodeItem)));
      cursor = page.next_cursor;
      more.hidden = !cursor;
    } catch (error) {
      fill(list, errorBox(error, { alert: false }));
    }
  }

  async function openRoot(code) {
    if (!code) return loadRoots(true);
    fill(list, loading(t("common.loading")));
    more.hidden = true;
    try {
      const sub = await api("GET", `${base}${query({ root: code, depth: 2 })}`);
      fill(list, h("ul", { class: "tree" }, nodeItem(sub.root)));
    } catch (error) {
      fill(list, errorBox(error, { alert: false }));
    }
  }

  loadRoots(true);
  return section;
}

function poolSection(cid) {
  const base = `/v1/admin/campaigns/${encodeURIComponent(cid)}/coupon-pools`;
  const body = h("div", { "aria-live": "polite" }, loading(t("common.loading")));
  const section = h("section", { class: "card" }, h("h2", {}, t("pools.title")), body);

  async function load() {
    try {
      const pools = (await api("GET", base)).items;
      clear(body);
      if (!pools.length) {
        add(body, emptyState(t("pools.empty")));
        return;
      }
      for (const pool of pools) add(body, poolCard(pool));
    } catch (error) {
      fill(body, errorBox(error, { alert: false }));
    }
  }

  function poolCard(pool) {
    const codes = h("textarea", { rows: 4, class: "code", placeholder: "CODE-0001\nCODE-0002" });
    const message = h("p", { role: "status" });
    const upload = h("button", { type: "submit", class: "primary" }, t("pools.upload"));
    const form = h(
      "form",
      { class: "pool" },
      h("h3", {}, `${pool.name} `, h("code", {}, pool.rule)),
      h("p", {}, t("pools.counts", { uploaded: num(pool.uploaded), free: num(pool.free), issued: num(pool.issued) })),
      field(t("pools.codes"), codes, t("pools.codes_hint")),
      upload,
      message,
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const list = codes.value
        .split(/[\s,;]+/)
        .map((c) => c.trim())
        .filter(Boolean);
      if (!list.length) {
        message.textContent = t("pools.none_entered");
        return;
      }
      busy(upload, async () => {
        try {
          const answer = await api("POST", `${base}/${encodeURIComponent(pool.rule)}/codes`, { codes: list });
          message.textContent = t("pools.uploaded", { added: answer.added, duplicates: answer.duplicates });
          codes.value = "";
          setTimeout(load, 1500);
        } catch (error) {
          message.textContent = `${error.message} (${error.code})`;
        }
      });
    });
    return form;
  }

  load();
  return section;
}
