// My tier (会员等级): the tier held, the measure it rests on, the next tier and how far it is, and the grace deadline
// while the measure is below the tier's threshold (GET /v1/campaigns/{cid}/me/tier, docs/retention.md).
import { t } from "../i18n.js";
import { h, when } from "./dom.js";

// The measure in its unit: points, yuan (the API counts fen) or friends.
function amount(measure, n) {
  if (measure === "spend_fen") return t("centre_tier_yuan", { n: (n / 100).toFixed(2) });
  if (measure === "qualified_invites") return t("centre_tier_friends", { n });
  return t("centre_tier_points", { n });
}

export default {
  id: "tier",
  async load(ctx) {
    const mine = await ctx.get(`/v1/campaigns/${encodeURIComponent(ctx.cid)}/me/tier`);
    return mine.tier || mine.next ? mine : null; // no tier held and none to reach: the tenant has no tiers
  },
  render(ctx, m) {
    const nodes = [
      h("h2", {}, t("centre_tier_title")),
      h("p", { class: "big", id: "tier-name", "data-tier": m.tier?.id ?? "" }, m.tier ? m.tier.name : t("centre_tier_none")),
    ];
    if (m.tier && m.tier.multiplier > 1) nodes.push(h("p", { class: "muted", id: "tier-multiplier" }, t("centre_tier_multiplier", { x: m.tier.multiplier })));
    nodes.push(h("p", { id: "tier-value" }, t(`centre_tier_measure_${m.measure}`, { amount: amount(m.measure, m.value), days: m.window_days })));
    if (m.next) {
      nodes.push(h("progress", { max: m.next.threshold, value: Math.min(m.value, m.next.threshold), "aria-label": m.next.name }),
        h("p", { id: "tier-next" }, t("centre_tier_next", { name: m.next.name, amount: amount(m.measure, m.next.distance) })));
    } else {
      nodes.push(h("p", { class: "muted", id: "tier-next" }, t("centre_tier_top")));
    }
    if (m.below_threshold && m.grace_deadline) {
      nodes.push(h("p", { class: "notice", id: "tier-grace" }, t("centre_tier_grace", { name: m.tier.name, amount: amount(m.measure, m.tier.threshold), time: when(m.grace_deadline, ctx.timeZone) })));
    }
    return nodes;
  },
};
