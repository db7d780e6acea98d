// My points: the balance, what is owed, what expires soon, and every entry with its explanation
// (GET /v1/campaigns/{cid}/me/points, docs/retention.md).
import { t } from "../i18n.js";
import { day, h, signed, when } from "./dom.js";

function figures(p) {
  const stat = (key, n, id) => h("div", {}, h("dt", {}, t(key)), h("dd", { id }, String(n)));
  return h("dl", { class: "stats" },
    stat("centre_earned", p.earned, "points-earned"),
    stat("centre_spent", p.spent, "points-spent"),
    stat("centre_expired", p.expired, "points-expired"));
}

function entry(ctx, e) {
  const lines = [h("span", { class: "entry-kind" }, t(`centre_kind_${e.kind}`)), h("span", { class: "muted" }, when(e.created_at, ctx.timeZone))];
  if (e.expires_at && e.points > 0) lines.push(h("span", { class: "muted" }, t("centre_entry_expires", { time: day(e.expires_at, ctx.timeZone) })));
  if (e.debt_paid) lines.push(h("span", { class: "muted" }, t("centre_entry_debt_paid", { n: e.debt_paid })));
  return h("li", { "data-kind": e.kind },
    h("div", { class: "entry" }, h("p", { class: "entry-head" }, ...lines), h("p", { class: "entry-why" }, e.explanation)),
    h("span", { class: e.points < 0 ? "points minus" : "points" }, signed(e.points)));
}

export default {
  id: "points",
  load: (ctx) => ctx.get(`/v1/campaigns/${encodeURIComponent(ctx.cid)}/me/points`),
  render(ctx, p) {
    const nodes = [
      h("h2", {}, t("centre_points_title")),
      h("p", { class: "muted" }, t("centre_balance")),
      h("p", { class: "big", id: "points-balance" }, String(p.balance)),
      figures(p),
    ];
    if (p.revoked) nodes.push(h("p", { class: "muted", id: "points-revoked" }, `${t("centre_revoked")}: ${p.revoked}`));
    if (p.debt) nodes.push(h("p", { class: "notice", id: "points-debt" }, t("centre_debt", { n: p.debt })));
    if (p.expiring_soon?.length) {
      nodes.push(h("h3", {}, t("centre_expiring_title")),
        h("ul", { class: "plain", id: "points-expiring" },
          p.expiring_soon.map((s) => h("li", {}, t("centre_expiring_item", { n: s.points, time: day(s.expires_at, ctx.timeZone) })))));
    }
    nodes.push(h("h3", {}, t("centre_entries_title")));
    nodes.push(p.entries.length
      ? h("ul", { class: "plain entries", id: "points-entries" }, p.entries.map((e) => entry(ctx, e)))
      : h("p", { class: "muted", id: "points-entries" }, t("centre_no_entries")));
    return nodes;
  },
};
