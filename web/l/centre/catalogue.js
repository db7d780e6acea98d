// The rewards shop (积分商城): items on offer with their price and stock, a redeem button on each
// (GET /v1/campaigns/{cid}/catalogue, POST /v1/campaigns/{cid}/me/redemptions, docs/retention.md).
import { randomId } from "../api.js";
import { t } from "../i18n.js";
import { h } from "./dom.js";

async function redeem(ctx, button, item) {
  const label = button.textContent;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  button.textContent = t("centre_redeeming");
  ctx.say("catalogue", "");
  try {
    // One key per click: a retry of this request (a lost answer) is the same redemption, another click is another.
    const done = await ctx.call("POST", `/v1/campaigns/${encodeURIComponent(ctx.cid)}/me/redemptions`, {
      body: { item_id: item.item_id },
      headers: { "Idempotency-Key": randomId("rd-") },
    });
    await ctx.reload();
    ctx.say("catalogue", t("centre_redeemed", { name: item.name, n: done.points, balance: done.balance }));
  } catch (error) {
    ctx.say("catalogue", ctx.errorText(error), "error");
    button.disabled = false;
    button.textContent = label;
  } finally {
    button.removeAttribute("aria-busy");
  }
}

function row(ctx, item, balance) {
  const facts = [h("span", { class: "price" }, t("centre_item_cost", { n: item.cost_points }))];
  facts.push(h("span", { class: "muted" }, item.stock > 0 ? t("centre_item_stock", { n: item.stock }) : t("centre_item_sold_out")));
  if (item.per_person_limit) facts.push(h("span", { class: "muted" }, t("centre_item_limit", { n: item.per_person_limit })));
  const short = balance !== null && balance < item.cost_points;
  const button = h("button", {
    type: "button",
    class: "redeem",
    "data-item": item.item_id,
    disabled: item.stock < 1 || short,
    title: short ? t("centre_not_enough") : null,
    onclick: (event) => redeem(ctx, event.currentTarget, item),
  }, t("centre_redeem"));
  return h("li", { "data-item": item.item_id },
    h("div", { class: "entry" }, h("p", { class: "entry-head" }, h("strong", {}, item.name)),
      item.description ? h("p", { class: "entry-why" }, item.description) : null, h("p", { class: "entry-head" }, ...facts)),
    button);
}

export default {
  id: "catalogue",
  async load(ctx) {
    const [shop, points] = await Promise.all([
      ctx.get(`/v1/campaigns/${encodeURIComponent(ctx.cid)}/catalogue`),
      ctx.get(`/v1/campaigns/${encodeURIComponent(ctx.cid)}/me/points`).catch(() => null),
    ]);
    return { items: shop.items, balance: points ? points.balance : null };
  },
  render(ctx, { items, balance }) {
    return [
      h("h2", {}, t("centre_catalogue_title")),
      items.length
        ? h("ul", { class: "plain entries", id: "catalogue-items" }, items.map((item) => row(ctx, item, balance)))
        : h("p", { class: "muted", id: "catalogue-items" }, t("centre_no_items")),
    ];
  },
};
