// The fraud review queue: held joins and facts with their reasons; approve or reject with a reason.
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
  const list = h("div", { "aria-live": "polite" });
  const listing = pager(
    list,
    (cursor) => api("GET", `/v1/admin/reviews${query({ status: status.value, cursor, limit: 50 })}`),
    draw,
  );
  const load = listing.load;
  add(
    root,
    h("h1", {}, t("review.title")),
    h("p", { class: "hint" }, t("review.intro")),
    h("div", { class: "filters" }, h("label", { for: "review-status" }, t("outbox.status")), status),
    list,
    listing.more,
  );
  status.addEventListener("change", () => load(true));

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
