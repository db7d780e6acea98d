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
const SERIES_METRICS = ["view", "join", "share", "qualified", "converted"];

/**
 * The dashboard. Its parts take `dash`: the campaign id `cid`, its API `path`, the `campaign` as last
 * read, the app's `ctx`, and the elements a refresh fills (see dashboardParts).
 */
export async function render(root, params, ctx) {
  const cid = params[0];
  const path = `/v1/admin/campaigns/${encodeURIComponent(cid)}`;
  const dash = { cid, path, ctx, campaign: await api("GET", path), ...dashboardParts() };
  add(root, dashboardLayout(dash));
  drawHeader(dash);
  add(dash.kpis, loading(t("common.loading")));
  await refresh(dash);
  const timer = setInterval(() => {
    if (dash.auto.checked && document.visibilityState === "visible") refresh(dash).catch((e) => showError(dash, e));
  }, REFRESH_MS);
  return () => {
    clearInterval(timer);
    dispose(dash.funnelEl);
    dispose(dash.seriesEl);
  };
}

// The elements the header, the lifecycle buttons and each refresh fill.
function dashboardParts() {
  return {
    header: h("div", { class: "toolbar" }),
    lifecycle: h("div", { class: "form-message", role: "alert" }),
    kpis: h("div", { class: "kpis", "aria-live": "polite" }),
    funnelEl: h("div", { class: "chart", role: "img", "aria-label": t("dash.funnel") }),
    seriesEl: h("div", { class: "chart", role: "img", "aria-label": t("dash.series") }),
    funnelText: h("div", {}),
    channels: h("div", {}),
    forecast: h("div", {}),
    leaders: h("div", {}),
    experiments: h("div", {}),
    generations: h("div", {}),
    updated: h("p", { class: "hint", role: "status" }),
    auto: h("input", { type: "checkbox", id: "auto-refresh", checked: true }),
  };
}

// The page, top to bottom: header, lifecycle message, refresh bar, KPIs, the cards, tree and code pools.
function dashboardLayout(dash) {
  return [
    dash.header,
    dash.lifecycle,
    refreshBar(dash),
    dash.kpis,
    h(
      "div",
      { class: "grid2" },
      card("dash.funnel", dash.funnelEl, dash.funnelText),
      card("dash.series", dash.seriesEl),
    ),
    h("div", { class: "grid2" }, card("dash.channels", dash.channels), card("dash.forecast", dash.forecast)),
    h("div", { class: "grid2" }, card("dash.leaderboard", dash.leaders), card("dash.generations", dash.generations)),
    card("dash.experiments", dash.experiments),
    treeSection(dash.cid),
    poolSection(dash.cid),
  ];
}

// A card: <section class=card> with a heading from `titleKey` over `children`.
function card(titleKey, ...children) {
  return h("section", { class: "card" }, h("h2", {}, t(titleKey)), ...children);
}

// When the numbers were read, the auto-refresh switch and the Refresh button.
function refreshBar(dash) {
  return h(
    "div",
    { class: "toolbar small" },
    dash.updated,
    h("span", {}, dash.auto, " ", h("label", { for: "auto-refresh" }, t("dash.auto_refresh"))),
    h("button", { type: "button", onclick: () => refresh(dash).catch((e) => showError(dash, e)) }, t("common.refresh")),
  );
}

async function refresh(dash) {
  draw(dash, await api("GET", `${dash.path}/stats`));
}

function showError(dash, error) {
  dash.updated.textContent = `${error.message} (${error.code})`;
}

// ---- header and lifecycle ------------------------------------------------------------------------

// The title, status, mode, window and landing page link; the buttons the status allows (edit, pause, resume, end).
function drawHeader(dash) {
  const { campaign, cid } = dash;
  const landing = new URL(`../l/?campaign=${encodeURIComponent(cid)}`, location.href).href;
  fill(
    dash.header,
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
      h("a", { class: "button", href: `#/campaigns/${cid}/stop-loss` }, t("sl.title")),
      campaign.status === "active" ? lifecycleButton(dash, "pause", t("dash.pause")) : null,
      campaign.status === "paused" ? lifecycleButton(dash, "publish", t("dash.resume"), "primary") : null,
      ["active", "paused"].includes(campaign.status) ? lifecycleButton(dash, "end", t("dash.end"), "danger") : null,
    ),
  );
}

// POST .../{action} (ending asks first); the header follows the new status, a refusal shows above the numbers.
function lifecycleButton(dash, action, label, cls = "") {
  const button = h("button", { type: "button", class: cls, dataset: { action } }, label);
  button.addEventListener("click", () =>
    busy(button, async () => {
      if (action === "end" && !window.confirm(t("dash.confirm_end"))) return;
      clear(dash.lifecycle);
      try {
        dash.campaign = await api("POST", `${dash.path}/${action}`);
        dash.ctx.announce(t(`status.${dash.campaign.status}`));
        drawHeader(dash);
      } catch (error) {
        add(dash.lifecycle, h("p", {}, `${error.message} (${error.code})`));
      }
    }),
  );
  return button;
}

// ---- the numbers (GET .../stats) -----------------------------------------------------------------

// Fills every part from one stats answer, in page order, and says when.
function draw(dash, stats) {
  fill(dash.kpis, kpiCards(stats));
  drawFunnel(dash, stats.funnel || []);
  drawSeries(dash, stats.series || []);
  fill(dash.channels, channelTable(stats.channels || []));
  fill(dash.forecast, forecastFacts(stats.forecast || {}));
  fill(dash.leaders, leaderTable(stats.top_inviters || []));
  fill(dash.generations, generationTable(stats.generations || []));
  fill(dash.experiments, experimentTables(stats.experiments || {}));
  dash.updated.textContent = t("dash.updated", { time: new Date().toLocaleTimeString() });
}

// One key number: label, value and an optional hint (data-kpi=key).
function kpi(key, label, value, hint) {
  return h(
    "div",
    { class: "kpi", dataset: { kpi: key } },
    h("span", { class: "label" }, label),
    h("strong", {}, value),
    hint ? h("span", { class: "hint" }, hint) : null,
  );
}

// Joins, invited joins, qualified, rewards, K, cycle time, ROI and conversions.
function kpiCards(stats) {
  const tot = stats.totals;
  const k = stats.k_factor || {};
  const cycle = stats.cycle_time_minutes || {};
  const roi = stats.roi || {};
  return [
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
  ];
}

// The funnel chart and, beside it, its numbers as a table.
function drawFunnel(dash, steps) {
  // Steps in funnel order as bars: the counts need not shrink step by step (views come from beacons
  // a merchant's own page may not send), which a funnel shape would hide.
  chart(dash.funnelEl, {
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
    dash.funnelText,
    table(
      [
        { label: t("dash.step"), cell: (s) => t(`funnel.${s.step}`) },
        { label: t("dash.count"), class: "num", cell: (s) => num(s.count) },
        { label: t("dash.rate"), class: "num", cell: (s) => pct(s.rate) },
      ],
      steps,
    ),
  );
}

// The daily chart: one line per funnel metric.
function drawSeries(dash, series) {
  chart(dash.seriesEl, {
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: { left: 40, right: 16, top: 36, bottom: 28 },
    xAxis: { type: "category", data: series.map((p) => p.period) },
    yAxis: { type: "value", minInterval: 1 },
    series: SERIES_METRICS.map((m) => ({
      name: t(`funnel.${m}`),
      type: "line",
      smooth: true,
      showSymbol: false,
      data: series.map((p) => p[m] || 0),
    })),
  }).catch(() => {});
}

// Shares, clicks, joins, conversions and revenue by channel (none: direct).
function channelTable(rows) {
  return table(
    [
      { label: t("dash.channel"), cell: (c) => (c.channel === null ? t("dash.direct") : c.channel) },
      { label: t("funnel.share"), class: "num", cell: (c) => num(c.shares) },
      { label: t("funnel.click"), class: "num", cell: (c) => num(c.clicks) },
      { label: t("funnel.join"), class: "num", cell: (c) => num(c.joins) },
      { label: t("funnel.converted"), class: "num", cell: (c) => num(c.conversions) },
      { label: t("stats.revenue"), class: "num", cell: (c) => yuan(c.revenue_fen) },
    ],
    rows,
    t("dash.no_channels"),
  );
}

// The forecast as facts (participants, spend, K with their ranges, budget, saturation), or why there is none.
function forecastFacts(f) {
  if (!f.available) return emptyState(t("dash.no_forecast"));
  const range = (r, format) => `${format(r?.expected)} (${format(r?.low)}–${format(r?.high)})`;
  return h(
    "dl",
    { class: "facts" },
    h("dt", {}, t("dash.f_participants")),
    h("dd", {}, range(f.projected_participants, num)),
    h("dt", {}, t("dash.f_spend")),
    h("dd", {}, range(f.projected_spend_fen, yuan)),
    h("dt", {}, t("stats.k")),
    h("dd", {}, `${num(f.k, 2)} (${num(f.k_low, 2)}–${num(f.k_high, 2)})`),
    h("dt", {}, t("dash.f_budget")),
    h("dd", {}, f.budget_fen ? `${yuan(f.budget_fen)}${f.over_budget ? ` · ${t("dash.over_budget")}` : ""}` : "–"),
    h("dt", {}, t("dash.f_saturated")),
    h("dd", {}, f.saturated ? t("common.yes") : t("common.no")),
  );
}

function leaderTable(rows) {
  return table(
    [
      { label: "#", class: "num", cell: (r) => num(r.rank) },
      { label: t("dash.nickname"), cell: (r) => r.nickname || "–" },
      { label: t("dash.code"), cell: (r) => h("code", {}, r.code) },
      { label: t("dash.score"), class: "num", cell: (r) => num(r.score) },
    ],
    rows,
    t("dash.no_leaders"),
  );
}

// Participants per referral depth.
function generationTable(rows) {
  return table(
    [
      { label: t("dash.depth"), class: "num", cell: (g) => num(g.depth) },
      { label: t("dash.participants"), class: "num", cell: (g) => num(g.participants) },
    ],
    rows,
    t("dash.no_generations"),
  );
}

// The A/B results: each variant's activation and conversion, then each against the baseline.
function experimentTables(exp) {
  if (!exp.variants?.length) return emptyState(t("dash.no_experiments"));
  return h("div", {}, variantTable(exp.variants), comparisonTable(exp));
}

function variantTable(variants) {
  return table(
    [
      { label: t("dash.variant"), cell: (v) => v.variant },
      { label: t("dash.participants"), class: "num", cell: (v) => num(v.participants) },
      { label: t("dash.activation"), class: "num", cell: (v) => `${num(v.activated)} (${pct(v.activation_rate)})` },
      { label: t("dash.conversion"), class: "num", cell: (v) => `${num(v.converted)} (${pct(v.conversion_rate)})` },
    ],
    variants,
  );
}

// Each variant against the baseline: the two tests, and a note when the sample is too small.
function comparisonTable(exp) {
  return table(
    [
      { label: t("dash.variant"), cell: (c) => `${c.variant} vs ${c.baseline}` },
      { label: t("dash.activation"), class: "num", cell: (c) => testText(c.activation_test) },
      { label: t("dash.conversion"), class: "num", cell: (c) => testText(c.conversion_test) },
      { label: t("dash.note"), cell: (c) => (c.warning ? t("dash.small_sample", { n: exp.min_sample }) : "") },
    ],
    exp.comparisons || [],
  );
}

function testText(test) {
  if (!test || test.diff === null || test.diff === undefined) return "–";
  const p = test.p_value ?? test.p;
  return `Δ ${pct(test.diff)} · z ${num(test.z, 2)} · p ${num(p, 3)}`;
}

// ---- the referral tree ---------------------------------------------------------------------------

/**
 * The referral tree: its roots page by page, or one invite code's subtree; a node's children load when it
 * is expanded. `tree` holds the API path `base`, the `list`, the More button and the roots' `cursor`.
 */
function treeSection(cid) {
  const tree = {
    base: `/v1/admin/campaigns/${encodeURIComponent(cid)}/tree`,
    list: h("div", { "aria-live": "polite" }),
    more: h("button", { type: "button", hidden: true }, t("common.more")),
    cursor: null,
  };
  const rootInput = h("input", { type: "text", name: "root", placeholder: "abcd1234" });
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
          openRoot(tree, rootInput.value.trim());
        },
      },
      field(t("tree.root_code"), rootInput),
      h("button", { type: "submit" }, t("tree.open")),
      h("button", { type: "button", onclick: () => loadRoots(tree, true) }, t("tree.roots")),
    ),
    tree.list,
    tree.more,
  );
  tree.more.addEventListener("click", () => loadRoots(tree, false));
  loadRoots(tree, true);
  return section;
}

// A participant: code, nickname, counted invites, whether qualified, when they joined.
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

// A tree item: expandable (<details>) when the participant invited anyone.
function nodeItem(tree, node) {
  const children = h("ul", {});
  const item = h("li", {});
  if (node.counted > 0 || node.children?.length) {
    const details = h("details", {}, h("summary", {}, nodeLabel(node)), children);
    details.addEventListener("toggle", () => loadChildren(tree, node, details, children));
    add(item, details);
  } else add(item, nodeLabel(node));
  return item;
}

// On the first expand: the children the answer already holds, else one level read from the API.
async function loadChildren(tree, node, details, children) {
  if (!details.open || details.dataset.loaded) return;
  details.dataset.loaded = "1";
  if (node.children?.length) {
    add(children, ...node.children.map((child) => nodeItem(tree, child)));
    return;
  }
  add(children, h("li", {}, loading(t("common.loading"))));
  try {
    const sub = await api("GET", `${tree.base}${query({ root: node.code, depth: 1 })}`);
    fill(
      children,
      (sub.root.children || []).map((child) => nodeItem(tree, child)),
    );
    if (!sub.root.children?.length) add(children, h("li", { class: "muted" }, t("tree.no_children")));
  } catch (error) {
    fill(children, errorBox(error, { tag: "li", alert: false }));
  }
}

// A page of roots: the first (`reset`) replaces the list, More appends the next.
async function loadRoots(tree, reset) {
  if (reset) {
    tree.cursor = null;
    fill(tree.list, loading(t("common.loading")));
  }
  try {
    const page = await api("GET", `${tree.base}${query({ cursor: tree.cursor, limit: 20 })}`);
    if (reset) clear(tree.list);
    if (!page.items.length && reset) add(tree.list, emptyState(t("tree.empty")));
    else
      add(
        tree.list,
        h(
          "ul",
          { class: "tree" },
          page.items.map((node) => nodeItem(tree, node)),
        ),
      );
    tree.cursor = page.next_cursor;
    tree.more.hidden = !tree.cursor;
  } catch (error) {
    fill(tree.list, errorBox(error, { alert: false }));
  }
}

// One invite code's subtree, two levels deep (no code: the roots again).
async function openRoot(tree, code) {
  if (!code) return loadRoots(tree, true);
  fill(tree.list, loading(t("common.loading")));
  tree.more.hidden = true;
  try {
    const sub = await api("GET", `${tree.base}${query({ root: code, depth: 2 })}`);
    fill(tree.list, h("ul", { class: "tree" }, nodeItem(tree, sub.root)));
  } catch (error) {
    fill(tree.list, errorBox(error, { alert: false }));
  }
}

// ---- coupon code pools ---------------------------------------------------------------------------

// The campaign's coupon code pools, each with its counts and an upload form. `pools`: the API path and the box.
function poolSection(cid) {
  const pools = {
    base: `/v1/admin/campaigns/${encodeURIComponent(cid)}/coupon-pools`,
    body: h("div", { "aria-live": "polite" }, loading(t("common.loading"))),
  };
  const section = h("section", { class: "card" }, h("h2", {}, t("pools.title")), pools.body);
  loadPools(pools);
  return section;
}

async function loadPools(pools) {
  try {
    const items = (await api("GET", pools.base)).items;
    clear(pools.body);
    if (!items.length) {
      add(pools.body, emptyState(t("pools.empty")));
      return;
    }
    for (const pool of items) add(pools.body, poolCard(pools, pool));
  } catch (error) {
    fill(pools.body, errorBox(error, { alert: false }));
  }
}

// A pool: name and rule, uploaded / free / issued counts, and a form to upload more codes.
function poolCard(pools, pool) {
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
    uploadCodes(pools, pool, { codes, message, upload });
  });
  return form;
}

// POST the codes typed (split on spaces, commas, semicolons); the counts reload a moment later.
function uploadCodes(pools, pool, { codes, message, upload }) {
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
      const answer = await api("POST", `${pools.base}/${encodeURIComponent(pool.rule)}/codes`, { codes: list });
      message.textContent = t("pools.uploaded", { added: answer.added, duplicates: answer.duplicates });
      codes.value = "";
      setTimeout(() => loadPools(pools), 1500);
    } catch (error) {
      message.textContent = `${error.message} (${error.code})`;
    }
  });
}
