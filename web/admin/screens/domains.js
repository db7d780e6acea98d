// Landing domains (docs/domains.md): the hosts links are minted on, in order. An owner adds one, blocks it when
// WeChat shows its interstitial (new links move to the next healthy one at once), unblocks it, deletes it.
// The screen says which host links use now, and the default they fall back to when none is healthy.
import { api } from "../api.js";
import { add, badge, busy, clear, errorBox, field, fill, h, loading, table, when } from "../dom.js";
import { t } from "../i18n.js";

// The API's refusal in the operator's words where its machine code (and `details.reason`) has one.
export function domainRefusal(error) {
  const reason = error.details?.reason;
  const known =
    error.code === "DOMAIN_INVALID" && reason
      ? t(`domains.invalid_${reason}`, {}, "")
      : t(`domains.error_${error.code}`, {}, "");
  return h("p", {}, known ? `${known} (${error.code})` : `${error.message} (${error.code})`);
}

export async function render(root, _params, ctx) {
  const now = h("div", { class: "notice", id: "domains-now", "aria-live": "polite" });
  const list = h("div", { "aria-live": "polite" }, loading(t("common.loading")));
  const message = h("div", { class: "form-message", role: "alert", id: "domains-message" });
  const host = h("input", {
    type: "text",
    name: "host",
    placeholder: "m.shop.example.cn",
    autocomplete: "off",
    spellcheck: "false",
    maxlength: "300",
    required: true,
  });
  const priority = h("input", { type: "number", name: "priority", min: "0", max: "10000", step: "1" });
  const hostField = field(t("domains.host"), host, t("domains.host_hint"));
  const submit = h("button", { type: "submit", class: "primary", id: "domain-add" }, t("domains.add"));
  const formMessage = h("div", { class: "form-message", role: "alert" });
  const form = h(
    "form",
    { class: "card stack", novalidate: true, "aria-labelledby": "domain-new-title" },
    h("h2", { id: "domain-new-title" }, t("domains.new")),
    hostField,
    field(t("domains.priority"), priority, t("domains.priority_hint")),
    submit,
    formMessage,
  );
  add(root, h("h1", {}, t("domains.title")), h("p", { class: "hint" }, t("domains.intro")), now, list, message, form);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = host.value.trim();
    hostField.setError(value ? "" : t("domains.host_needed"));
    if (!value) {
      host.focus();
      return;
    }
    const body = { host: value };
    if (priority.value.trim() !== "") body.priority = Number(priority.value);
    busy(submit, async () => {
      clear(formMessage);
      try {
        const made = await api("POST", "/v1/admin/domains", body);
        form.reset();
        ctx.announce(t("domains.added", { host: made.host }));
        await load();
      } catch (error) {
        fill(formMessage, domainRefusal(error));
      }
    });
  });

  async function load() {
    try {
      const found = await api("GET", "/v1/admin/domains");
      fill(now, current(found));
      fill(
        list,
        table(
          [
            { label: t("domains.host"), cell: (d) => h("code", {}, d.host) },
            { label: t("domains.priority"), class: "num", cell: (d) => String(d.priority) },
            { label: t("domains.status"), cell: (d) => status(d, found.current_host) },
            { label: t("domains.created_at"), cell: (d) => when(d.created_at) },
            { label: t("common.actions"), cell: (d) => actions(d) },
          ],
          found.items,
          t("domains.empty"),
        ),
      );
    } catch (error) {
      // Owners only: anyone else sees the API's refusal in place of the domains, and no form.
      clear(now);
      fill(list, errorBox(error, { notAvailable: t("common.not_available") }));
      form.hidden = true;
    }
  }

  function status(d, currentHost) {
    if (d.status === "healthy")
      return [
        badge(t("domains.status_healthy"), "active"),
        d.host === currentHost ? [" ", badge(t("domains.in_use"), "sent")] : null,
      ];
    const by = [d.blocked_by, when(d.blocked_at)].filter(Boolean).join(" · ");
    return [
      badge(t("domains.status_blocked"), "block"),
      d.reason ? h("div", { class: "hint" }, d.reason) : null,
      by ? h("div", { class: "hint" }, by) : null,
    ];
  }

  // One button per change: each runs, then reads the list again (the order and the current host may move).
  function act(label, aria, work, done, kind = "ghost") {
    const button = h("button", { type: "button", class: kind, "aria-label": aria }, label);
    button.addEventListener("click", () => {
      const body = work();
      if (body === null) return;
      busy(button, async () => {
        clear(message);
        try {
          await body();
          ctx.announce(done);
          await load();
        } catch (error) {
          fill(message, domainRefusal(error));
        }
      });
    });
    return button;
  }

  function actions(d) {
    const path = `/v1/admin/domains/${encodeURIComponent(d.domain_id)}`;
    const toggle =
      d.status === "healthy"
        ? act(
            t("domains.block"),
            t("domains.block_label", { host: d.host }),
            () => {
              const reason = window.prompt(t("domains.block_reason", { host: d.host }), "");
              if (reason === null) return null;
              const body = reason.trim() ? { reason: reason.trim().slice(0, 200) } : {};
              return () => api("POST", `${path}/block`, body);
            },
            t("domains.blocked_now", { host: d.host }),
            "ghost danger",
          )
        : act(
            t("domains.unblock"),
            t("domains.unblock_label", { host: d.host }),
            () => () => api("POST", `${path}/unblock`),
            t("domains.unblocked_now", { host: d.host }),
          );
    const remove = act(
      t("common.delete"),
      t("domains.delete_label", { host: d.host }),
      () => (window.confirm(t("domains.confirm_delete", { host: d.host })) ? () => api("DELETE", path) : null),
      t("domains.deleted_now", { host: d.host }),
      "ghost danger",
    );
    return h("div", { class: "actions" }, toggle, remove);
  }

  await load();
}

// Where links go now: the first healthy domain, or the deployment's default (none registered, or all blocked).
function current(found) {
  const fallback = h("p", {}, t("domains.fallback"), " ", h("code", {}, found.fallback_base_url));
  if (found.current_host)
    return [
      h("p", {}, t("domains.now"), " ", h("strong", {}, h("code", {}, `https://${found.current_host}`))),
      fallback,
    ];
  return [
    h(
      "p",
      { class: found.items.length ? "warn" : null },
      found.items.length ? t("domains.all_blocked") : t("domains.none"),
    ),
    fallback,
  ];
}
