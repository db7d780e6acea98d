// The fraud review queue: held joins and facts with their reasons, filtered by status, campaign and age;
// approve or reject with a reason.
import { api, query } from "../api.js";
import { add, badge, busy, h, select, table, when } from "../dom.js";
import { t } from "../i18n.js";
import { pager } from "../pager.js";

export async function render(root) {
  const status = select(
    ["pending", "approved", "rejected"].map((s) => [s, t(`review.${s}`)]),
    "pending",
    { id: "review-status" },
  );
  const campaigns = (await api("GET", "/v1/admin/campaigns?limit=50").catch(() => ({ items: [] }))).items;
  const campaign = select(
    [["", t("common.all")], ...campaigns.map((c) => [c.campaign_id, c.title || c.campaign_id])],
    "",
    { id: "review-campaign" },
  );
  // Ages as an operator thinks of the queue: fresh today, or waiting a day or more. Each is one key range.
  const AGES = {
    "": {},
    "newer:24": { newer_than_hours: 24 },
    "older:24": { older_than_hours: 24 },
    "older:72": { older_than_hours: 72 },
  };
  const age = select(
    Object.keys(AGES).map((k) => [k, t(k ? `review.age.${k.replace(":", "_")}` : "common.any")]),
    "",
    { id: "review-age" },
  );
  const list = h("div", { "aria-live": "polite" });
  const listing = pager(
    list,
    (cursor) =>
      api(
        "GET",
        `/v1/admin/reviews${query({ status: status.value, campaign_id: campaign.value, ...AGES[age.value], cursor, limit: 50 })}`,
      ),
    draw,
  );
  const load = listing.load;
  add(
    root,
    h("h1", {}, t("review.title")),
    h("p", { class: "hint" }, t("review.intro")),
    h(
      "div",
      { class: "filters" },
      h("label", { for: "review-status" }, t("outbox.status")),
      status,
      h("label", { for: "review-campaign" }, t("review.campaign")),
      campaign,
      h("label", { for: "review-age" }, t("review.age")),
      age,
    ),
    list,
    listing.more,
  );
  for (const filter of [status, campaign, age]) filter.addEventListener("change", () => load(true));

  function draw(rows) {
    return table(
      [
        { label: t("review.created"), cell: (r) => when(r.created_at) },
        { label: t("review.kind"), cell: (r) => r.kind },
        {
          label: t("review.subject"),
          cell: (r) =>
            h(
              "span",
              {},
              h("code", {}, r.subject),
              " ",
              h("a", { href: `#/campaigns/${r.campaign_id}` }, r.campaign_id),
            ),
        },
        { label: t("review.score"), class: "num", cell: (r) => String(r.score) },
        {
          label: t("review.reasons"),
          cell: (r) => (r.reasons || []).map((x) => badge(x.code || x.signal || JSON.stringify(x))),
        },
        {
          label: t("common.actions"),
          cell: (r) =>
            r.status === "pending"
              ? decide(r)
              : `${t(`review.${r.status}`)} · ${r.decided_by || ""} · ${r.reason || ""}`,
        },
      ],
      rows,
      t("review.empty"),
    );
  }

  function decide(r) {
    const reason = h("input", { type: "text", "aria-label": t("review.reason"), placeholder: t("review.reason") });
    const note = h("span", { role: "status" });
    const act = (verb, cls) => {
      const button = h("button", { type: "button", class: cls }, t(`review.${verb}`));
      button.addEventListener("click", () => {
        if (!reason.value.trim()) {
          note.textContent = t("review.reason_needed");
          reason.focus();
          return;
        }
        busy(button, async () => {
          try {
            await api("POST", `/v1/admin/reviews/${encodeURIComponent(r.id)}/${verb}`, { reason: reason.value.trim() });
            await load(true);
          } catch (error) {
            note.textContent = `${error.message} (${error.code})`;
          }
        });
      });
      return button;
    };
    return h("div", { class: "decide" }, reason, act("approve", "primary"), act("reject", "danger"), note);
  }

  await load(true);
}
