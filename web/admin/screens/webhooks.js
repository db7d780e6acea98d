// Outbound webhook endpoints: add (URL + events), remove, and the deliveries that gave up; then the
// identity keys merchants' servers sign participant assertions with (#/webhooks/identity-keys opens there)
// and the API keys their back ends call Fission with (#/webhooks/api-keys).
import { api } from "../api.js";
import { add, badge, busy, clear, errorBox, field, fill, h, loading, table, when } from "../dom.js";
import { t } from "../i18n.js";
import { apiKeysSection } from "./api-keys.js";
import { identityKeysSection } from "./identity-keys.js";

export async function render(root, params, ctx) {
  const list = h("div", { "aria-live": "polite" }, loading(t("common.loading")));
  const dead = h("div", {}, loading(t("common.loading")));
  const url = h("input", {
    type: "url",
    name: "url",
    placeholder: "https://shop.example.com/hooks/fission",
    required: true,
  });
  // One checkbox per event type the API offers (GET /v1/admin/webhooks/events), filled by loadEvents().
  const checks = h("div", { class: "checks" }, loading(t("common.loading")));
  const message = h("div", { class: "form-message", role: "alert" });
  const addButton = h("button", { type: "submit", class: "primary" }, t("hooks.add"));
  const form = h(
    "form",
    { class: "card stack" },
    h("h2", {}, t("hooks.new")),
    field(t("hooks.url"), url, t("hooks.url_hint")),
    h("fieldset", {}, h("legend", {}, t("hooks.events")), checks),
    addButton,
    message,
  );
  add(
    root,
    h("h1", {}, t("hooks.title")),
    h("p", { class: "hint" }, t("hooks.intro")),
    list,
    form,
    h("section", { class: "card" }, h("h2", {}, t("hooks.dead")), dead),
  );
  const keys = identityKeysSection(ctx);
  const apiKeys = apiKeysSection(ctx);
  add(root, keys, apiKeys);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const events = [...checks.querySelectorAll("input")].filter((i) => i.checked).map((i) => i.value);
    busy(addButton, async () => {
      clear(message);
      try {
        const created = await api("POST", "/v1/admin/webhooks", { url: url.value.trim(), events });
        url.value = "";
        ctx.announce(t("hooks.added"));
        if (created?.secret)
          add(message, h("p", { class: "ok" }, t("hooks.secret_once"), " ", h("code", {}, created.secret)));
        await load();
      } catch (error) {
        add(message, h("p", {}, `${error.message} (${error.code})`));
      }
    });
  });

  async function loadEvents() {
    try {
      const { events } = await api("GET", "/v1/admin/webhooks/events");
      fill(
        checks,
        events.map((e) =>
          h("label", { class: "check" }, h("input", { type: "checkbox", value: e, checked: true }), ` ${e}`),
        ),
      );
    } catch (error) {
      fill(checks, errorBox(error, { notAvailable: t("common.not_available") }));
      addButton.disabled = true;
    }
  }

  async function load() {
    try {
      const items = (await api("GET", "/v1/admin/webhooks")).items;
      fill(
        list,
        table(
          [
            { label: t("hooks.url"), cell: (w) => h("code", {}, w.url) },
            { label: t("hooks.events"), cell: (w) => (w.events || []).map((e) => badge(e)) },
            { label: t("hooks.created"), cell: (w) => when(w.created_at) },
            { label: t("common.actions"), cell: (w) => removeButton(w) },
          ],
          items,
          t("hooks.empty"),
        ),
      );
    } catch (error) {
      fill(list, errorBox(error));
    }
    try {
      const items = (await api("GET", "/v1/admin/webhooks/dead")).items;
      fill(
        dead,
        table(
          [
            { label: t("hooks.event"), cell: (d) => d.event_type || d.type || d.event || "" },
            { label: t("hooks.url"), cell: (d) => h("code", {}, d.url || d.webhook_id || "") },
            { label: t("outbox.attempts"), class: "num", cell: (d) => String(d.attempts ?? "") },
            { label: t("outbox.why"), cell: (d) => d.last_error || d.error || "" },
            { label: t("hooks.when"), cell: (d) => when(d.failed_at || d.updated_at || d.created_at) },
          ],
          items,
          t("hooks.no_dead"),
        ),
      );
    } catch (error) {
      fill(dead, errorBox(error, { alert: false }));
    }
  }

  function removeButton(w) {
    const button = h("button", { type: "button", class: "ghost danger" }, t("common.delete"));
    button.addEventListener("click", () => {
      if (!window.confirm(t("hooks.confirm_delete", { url: w.url }))) return;
      busy(button, async () => {
        try {
          await api("DELETE", `/v1/admin/webhooks/${encodeURIComponent(w.id || w.wid)}`);
          await load();
        } catch (error) {
          window.alert(error.message);
        }
      });
    });
    return button;
  }

  await Promise.all([loadEvents(), load(), keys.load(), apiKeys.load()]);
  if (params[0] === "identity-keys") keys.reveal();
  if (params[0] === "api-keys") apiKeys.reveal();
}
