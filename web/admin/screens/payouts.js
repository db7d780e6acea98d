// Payouts for finance and the owner: withdrawals by status; the pending ones approved or rejected in batches,
// approved ones marked paid with the bank's reference, the bank-transfer CSV, and (owner) the payout policy.
// Every money act needs a fresh TOTP step-up: api.js asks for the code (stepup.js) and sends the call again.
import { api, query } from "../api.js";
import { add, badge, busy, field, fill, h, select, table, when, yuan } from "../dom.js";
import { t } from "../i18n.js";
import { pager } from "../pager.js";
import { settingsSection } from "./payout-settings.js";

const STATUSES = ["requested", "approved", "paying", "paid", "failed", "rejected"];
// The API decides at most this many withdrawals in one call.
const MAX_BATCH = 50;

export async function render(root, _params, ctx) {
  const status = select(
    STATUSES.map((s) => [s, t(`payouts.s_${s}`)]),
    "requested",
    { id: "payouts-status" },
  );
  const selected = new Set();
  const list = h("div", { "aria-live": "polite" });
  const tools = h("div", {});
  const listing = pager(
    list,
    (cursor) => api("GET", `/v1/admin/payouts/withdrawals${query({ status: status.value, cursor, limit: 50 })}`),
    draw,
  );
  // What the last act did, kept above the list while it reloads.
  const outcome = h("div", { class: "form-message", role: "status" });
  const reload = () => {
    selected.clear();
    return listing.load(true);
  };
  const switchTo = () => {
    fill(outcome);
    fill(tools, status.value === "requested" ? batchTools() : status.value === "approved" ? exportTools() : null);
    return reload();
  };
  add(
    root,
    h("h1", {}, t("payouts.title")),
    h("p", { class: "hint" }, t("payouts.intro")),
    h(
      "section",
      { class: "card stack", "aria-labelledby": "payouts-queue-title" },
      h("h2", { id: "payouts-queue-title" }, t("payouts.queue")),
      h("div", { class: "filters" }, field(t("payouts.status"), status)),
      tools,
      outcome,
      list,
      listing.more,
    ),
    ctx.session?.role === "owner" ? settingsSection(ctx) : null,
  );
  status.addEventListener("change", switchTo);

  function draw(rows) {
    for (const wid of [...selected]) if (!rows.some((r) => r.withdrawal_id === wid)) selected.delete(wid);
    const columns = [
      { label: t("payouts.requested_at"), cell: (r) => h("span", { title: when(r.created_at) }, age(r.created_at)) },
      { label: t("payouts.earner"), cell: earner },
      { label: t("payouts.method"), cell: (r) => t(`payouts.m_${r.method}`) },
      { label: t("payouts.destination"), cell: (r) => h("code", {}, r.destination) },
      { label: t("payouts.amount"), class: "num", cell: (r) => yuan(r.amount_fen) },
      { label: t("payouts.fee"), class: "num", cell: (r) => yuan(r.fee_fen) },
      { label: t("payouts.net"), class: "num", cell: (r) => yuan(r.net_fen) },
      { label: t("payouts.state"), cell: state },
    ];
    if (status.value === "requested") columns.unshift({ label: t("payouts.select"), cell: checkbox });
    if (status.value === "approved") columns.push({ label: t("common.actions"), cell: markPaid });
    return table(columns, rows, t(`payouts.empty_${status.value}`));
  }

  function checkbox(r) {
    const box = h("input", {
      type: "checkbox",
      checked: selected.has(r.withdrawal_id),
      "aria-label": t("payouts.select_one", { id: r.withdrawal_id, amount: yuan(r.amount_fen) }),
      dataset: { wid: r.withdrawal_id },
    });
    box.addEventListener("change", () => {
      if (box.checked) selected.add(r.withdrawal_id);
      else selected.delete(r.withdrawal_id);
    });
    return box;
  }

  function earner(r) {
    const out = h("span", { class: "muted" });
    const open = h("button", { type: "button", class: "link" }, t("payouts.wallet"));
    open.addEventListener("click", () =>
      busy(open, async () => {
        try {
          const wallet = await api("GET", `/v1/admin/payouts/wallets/${encodeURIComponent(r.uid)}`);
          const b = wallet.balances;
          fill(out, t("payouts.wallet_line", { available: yuan(b.available_fen), pending: yuan(b.pending_fen) }));
        } catch (error) {
          fill(out, `${error.message} (${error.code})`);
        }
      }),
    );
    return h(
      "div",
      { class: "stack-tight" },
      r.name ? h("span", {}, r.name) : null,
      h("code", { title: r.uid }, short(r.uid)),
      h("a", { href: `#/campaigns/${r.campaign_id}` }, r.campaign_id),
      h("span", {}, open, " ", out),
    );
  }

  function state(r) {
    const extra = [];
    if (r.reason) extra.push(h("span", { class: r.status === "failed" ? "warn" : "muted" }, r.reason));
    if (r.provider_ref) extra.push(h("span", {}, t("payouts.reference_is", { ref: r.provider_ref })));
    if (r.decided_by) extra.push(h("span", { class: "muted" }, t("payouts.decided_by", { who: r.decided_by })));
    for (const flag of r.flags || []) {
      extra.push(h("span", { class: "warn" }, t(`payouts.flag_${flag}`, { n: r.shared_destination_wallets ?? 2 })));
    }
    return h("div", { class: "stack-tight" }, badge(t(`payouts.s_${r.status}`), r.status), extra);
  }

  function batchTools() {
    const reason = h("input", { type: "text", id: "payouts-reason", maxlength: "200", autocomplete: "off" });
    const approve = h("button", { type: "button", class: "primary" }, t("payouts.approve"));
    const reject = h("button", { type: "button", class: "danger" }, t("payouts.reject"));
    const all = h("button", { type: "button" }, t("payouts.select_all"));
    const message = h("div", { class: "form-message", role: "alert" });
    all.addEventListener("click", () => {
      for (const box of list.querySelectorAll("input[type=checkbox][data-wid]")) {
        box.checked = true;
        selected.add(box.dataset.wid);
      }
    });
    approve.addEventListener("click", () => decide("approve", approve, null, message));
    reject.addEventListener("click", () => {
      if (!reason.value.trim()) {
        fill(message, t("payouts.reason_needed"));
        reason.focus();
        return;
      }
      decide("reject", reject, reason.value.trim(), message);
    });
    return h(
      "div",
      { class: "stack" },
      h("div", { class: "decide" }, all, approve, h("label", { for: reason.id }, t("payouts.reason")), reason, reject),
      h("p", { class: "hint" }, t("payouts.batch_hint", { n: MAX_BATCH })),
      message,
    );
  }

  function decide(verb, button, reason, message) {
    const ids = [...selected];
    if (!ids.length) return fill(message, t("payouts.none_selected"));
    if (ids.length > MAX_BATCH) return fill(message, t("payouts.too_many", { n: MAX_BATCH }));
    return busy(button, async () => {
      fill(message);
      fill(outcome);
      const body = { withdrawal_ids: ids, ...(reason ? { reason } : {}) };
      try {
        const answer = await api("POST", `/v1/admin/payouts/withdrawals/${verb}`, body);
        const done = answer.items.filter((i) => i.result === "done").length;
        const others = answer.items.filter((i) => i.result !== "done");
        const said = t(`payouts.done_${verb}`, { n: done });
        ctx.announce(said);
        fill(
          outcome,
          h("p", { class: others.length ? "warn" : "ok" }, said),
          others.length ? h("ul", {}, others.map(itemProblem)) : null,
        );
        await reload();
      } catch (error) {
        fill(message, h("p", {}, `${error.message} (${error.code})`));
      }
    });
  }

  function itemProblem(item) {
    const now = item.status ? t(`payouts.s_${item.status}`) : "–";
    return h("li", {}, h("code", {}, item.withdrawal_id), " ", t(`payouts.r_${item.result}`, { status: now }));
  }

  function exportTools() {
    const download = h("button", { type: "button", class: "primary" }, t("payouts.export"));
    const note = h("p", { class: "form-message", role: "alert" });
    download.addEventListener("click", () =>
      busy(download, async () => {
        note.textContent = "";
        try {
          const response = await api("GET", "/v1/admin/payouts/bank-transfers", undefined, {
            raw: true,
            headers: { Accept: "text/csv, application/json" },
          });
          const href = URL.createObjectURL(await response.blob());
          const stamp = new Date().toISOString().slice(0, 10);
          const a = h("a", { href, rel: "noopener", download: `bank-transfers-${stamp}.csv` });
          document.body.append(a);
          a.click();
          a.remove();
          setTimeout(() => URL.revokeObjectURL(href), 10_000);
          ctx.announce(t("payouts.exported"));
        } catch (error) {
          note.textContent = `${error.message} (${error.code})`;
        }
      }),
    );
    return h(
      "div",
      { class: "stack" },
      h("p", { class: "hint" }, t("payouts.export_hint")),
      h("div", {}, download),
      note,
    );
  }

  function markPaid(r) {
    const reference = h("input", {
      type: "text",
      maxlength: "128",
      autocomplete: "off",
      "aria-label": t("payouts.reference_for", { id: r.withdrawal_id }),
      placeholder: t("payouts.reference"),
    });
    const button = h("button", { type: "button", class: "primary" }, t("payouts.mark_paid"));
    const note = h("span", { role: "status" });
    button.addEventListener("click", () => {
      if (!reference.value.trim()) {
        note.textContent = t("payouts.reference_needed");
        reference.focus();
        return;
      }
      busy(button, async () => {
        try {
          const path = `/v1/admin/payouts/withdrawals/${encodeURIComponent(r.withdrawal_id)}/paid`;
          await api("POST", path, { reference: reference.value.trim() });
          ctx.announce(t("payouts.marked_paid", { id: r.withdrawal_id }));
          fill(outcome, h("p", { class: "ok" }, t("payouts.marked_paid", { id: r.withdrawal_id })));
          await reload();
        } catch (error) {
          note.textContent = `${error.message} (${error.code})`;
        }
      });
    });
    return h("div", { class: "decide" }, reference, button, note);
  }

  await switchTo();
}

/** How long a withdrawal has waited, as an operator reads a queue: minutes, hours or days. */
function age(iso) {
  const ms = Date.now() - new Date(iso).getTime();
  if (Number.isNaN(ms)) return "–";
  const minutes = Math.max(0, Math.floor(ms / 60_000));
  if (minutes < 60) return t("payouts.age_m", { n: minutes });
  if (minutes < 48 * 60) return t("payouts.age_h", { n: Math.floor(minutes / 60) });
  return t("payouts.age_d", { n: Math.floor(minutes / 1440) });
}

/** A person's id is long (an HMAC): its start is enough to tell people apart on screen. */
function short(uid) {
  return uid && uid.length > 14 ? `${uid.slice(0, 12)}…` : uid;
}
