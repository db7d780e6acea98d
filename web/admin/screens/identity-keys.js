// Identity keys (docs/identity.md): what the merchant's servers sign participant assertions with, for
// campaigns whose identity mode is `signed`. Owners list, make and retire them; a new key's secret is shown
// once, right after it is made, and never again (the API keeps it encrypted and returns it only then).
// A section of the webhooks screen (#/webhooks, and #/webhooks/identity-keys to open on it).
import { api } from "../api.js";
import { badge, busy, clear, copyText, errorBox, field, fill, h, loading, table, when } from "../dom.js";
import { t } from "../i18n.js";

/** The section, with `load()` to read the keys and `reveal()` to scroll to it and focus its heading (unless
 * focus is already somewhere). */
export function identityKeysSection(ctx) {
  const list = h("div", { "aria-live": "polite" }, loading(t("common.loading")));
  const fresh = h("div", { class: "fresh-key" });
  const message = h("div", { class: "form-message", role: "alert" });
  const create = h("button", { type: "button", class: "primary", id: "identity-key-create" }, t("keys.create"));
  const heading = h("h2", { id: "identity-keys-title", tabindex: "-1" }, t("keys.title"));
  const section = h(
    "section",
    { class: "card stack", id: "identity-keys", "aria-labelledby": heading.id },
    heading,
    h("p", { class: "hint" }, t("keys.intro")),
    list,
    create,
    message,
    fresh,
  );

  async function load() {
    try {
      const { items } = await api("GET", "/v1/admin/identity-keys");
      fill(list, keyTable(items, retireButton));
    } catch (error) {
      // Owners only: anyone else sees the API's refusal in place of the keys, and no create button.
      fill(list, errorBox(error, { notAvailable: t("common.not_available") }));
      create.hidden = true;
    }
  }

  create.addEventListener("click", () =>
    busy(create, async () => {
      clear(message);
      try {
        const made = await api("POST", "/v1/admin/identity-keys");
        fill(
          fresh,
          secretOnce(made, () => clear(fresh), ctx),
        );
        ctx.announce(t("keys.created", { id: made.key_id }));
        fresh.querySelector("input")?.focus();
        await load();
      } catch (error) {
        fill(message, h("p", {}, `${error.message} (${error.code})`));
      }
    }),
  );

  function retireButton(key) {
    const button = h("button", { type: "button", class: "ghost danger" }, t("keys.retire"));
    button.addEventListener("click", () => {
      if (!window.confirm(t("keys.confirm_retire", { id: key.key_id }))) return;
      busy(button, async () => {
        clear(message);
        try {
          await api("POST", `/v1/admin/identity-keys/${encodeURIComponent(key.key_id)}/retire`);
          ctx.announce(t("keys.retired_now", { id: key.key_id }));
          await load();
        } catch (error) {
          fill(message, h("p", {}, `${error.message} (${error.code})`));
        }
      });
    });
    return button;
  }

  section.load = load;
  section.reveal = () => {
    // Called once the screen's reads are in: someone already in a field or on a button keeps their place.
    if (document.activeElement !== document.body) return;
    section.scrollIntoView({ block: "start" });
    heading.focus({ preventScroll: true });
  };
  return section;
}

// The keys, newest state first as the API lists them: ids and states only (the API never returns a secret here).
function keyTable(items, retireButton) {
  return table(
    [
      { label: t("keys.id"), cell: (k) => h("code", {}, k.key_id) },
      {
        label: t("keys.status"),
        cell: (k) => badge(t(`keys.status_${k.status}`, {}, k.status), k.status === "active" ? "active" : "ended"),
      },
      { label: t("keys.created_at"), cell: (k) => when(k.created_at) },
      { label: t("keys.created_by"), cell: (k) => k.created_by || "–" },
      { label: t("keys.retired_at"), cell: (k) => when(k.retired_at) },
      { label: t("common.actions"), cell: (k) => (k.status === "active" ? retireButton(k) : "") },
    ],
    items,
    t("keys.empty"),
  );
}

// The new key's secret, once: a read-only field with a copy button, the warning, what the signer needs.
function secretOnce(made, done, ctx) {
  const secret = h("input", {
    id: "identity-key-secret",
    class: "code secret",
    readonly: true,
    value: made.secret,
    spellcheck: "false",
    autocomplete: "off",
  });
  const copy = h("button", { type: "button", id: "identity-key-copy" }, t("keys.copy"));
  copy.addEventListener("click", async () =>
    ctx.announce((await copyText(secret)) ? t("keys.copied") : t("keys.copy_failed")),
  );
  const fact = (label, value) => [h("dt", {}, label), h("dd", {}, h("code", {}, value))];
  return h(
    "div",
    { class: "notice stack", role: "region", "aria-label": t("keys.new_title", { id: made.key_id }) },
    h("h3", {}, t("keys.new_title", { id: made.key_id })),
    h("p", { class: "warn" }, h("strong", {}, t("keys.once_warning"))),
    field(t("keys.secret"), secret),
    h("div", { class: "actions" }, copy, h("button", { type: "button", onclick: done }, t("keys.done"))),
    h(
      "dl",
      { class: "facts" },
      fact(t("keys.id"), made.key_id),
      fact(t("keys.algorithm"), made.algorithm),
      fact(t("keys.audience"), made.audience),
      fact(t("keys.issuer"), made.issuer),
    ),
    h("p", { class: "hint" }, t("keys.how")),
  );
}
