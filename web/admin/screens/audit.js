// The audit chain: newest first, with a verification of the whole chain (hashes, MACs, the newest anchor).
import { api, query } from "../api.js";
import { add, busy, h, loading, table, when } from "../dom.js";
import { t } from "../i18n.js";
import { pager } from "../pager.js";

export async function render(root) {
  const list = h("div", { "aria-live": "polite" }, loading(t("common.loading")));
  const listing = pager(list, (cursor) => api("GET", `/v1/admin/audit${query({ limit: 50, cursor })}`), draw);
  const verdict = h("p", { role: "status", "aria-live": "polite" });
  const verify = h("button", { type: "button", class: "primary" }, t("audit.verify"));
  add(root, h("div", { class: "toolbar" }, h("h1", {}, t("audit.title")), verify), verdict, list, listing.more);
  verify.addEventListener("click", () =>
    busy(verify, async () => {
      verdict.textContent = t("audit.verifying");
      try {
        const answer = await api("GET", "/v1/admin/audit/verify");
        verdict.className = answer.ok ? "ok" : "error-box";
        verdict.textContent = answer.ok
          ? t("audit.ok", { n: answer.entries, head: answer.head_seq })
          : t("audit.broken", {
              seq: answer.first_broken.seq,
              reason: `${answer.first_broken.check}: ${answer.first_broken.reason}`,
              n: answer.entries,
            });
      } catch (error) {
        verdict.textContent = `${error.message} (${error.code})`;
      }
    }),
  );

  function draw(rows) {
    return table(
      [
        { label: "#", class: "num", cell: (e) => String(e.seq) },
        { label: t("audit.at"), cell: (e) => when(e.at) },
        { label: t("audit.actor"), cell: (e) => e.actor },
        { label: t("audit.action"), cell: (e) => h("code", {}, e.action) },
        { label: t("audit.target"), cell: (e) => e.target || "" },
        {
          label: t("audit.details"),
          cell: (e) => h("code", { class: "details" }, JSON.stringify(e.details || {})),
        },
        { label: t("audit.hash"), cell: (e) => h("code", { title: e.hash }, String(e.hash || "").slice(0, 10)) },
      ],
      rows,
      t("audit.empty"),
    );
  }

  await listing.load(true);
}
