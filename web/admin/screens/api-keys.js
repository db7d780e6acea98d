// API keys (docs/api-keys.md): what a merchant's back end calls Fission with instead of an operator's login.
// Owners list, make and revoke them, and read each key's uses; a new key is shown once, right after it is made, and never again (the
// API keeps only its hash). Making and revoking a key need the owner's fresh TOTP step-up: api.js asks for the
// authenticator code when the API wants one; an owner without an authenticator is pointed at enrolling one.
// A section of the webhooks screen (#/webhooks, and #/webhooks/api-keys to open on it).
import { api } from "../api.js";
import { badge, busy, clear, copyText, errorBox, field, fill, h, loading, nextId, table, when } from "../dom.js";
import { t } from "../i18n.js";

// The scopes the API grants, in its order: the API has no route that lists them, so they mirror ApiScope in
// chalicelib/accounts/rules/api_keys.py (a scope missing here cannot be granted from the console).
const SCOPES = ["participants:write", "orders:write", "stats:read", "exports:create"];

const scopeText = (scope) => t(`apikeys.scope_${scope.replace(":", "_")}`);

/** The section, with `load()` to read the keys and `reveal()` to scroll to it and focus its heading (unless
 * focus is already somewhere). */
export function apiKeysSection(ctx) {
  const list = h("div", { "aria-live": "polite" }, loading(t("common.loading")));
  const fresh = h("div", { class: "fresh-key" });
  const message = h("div", { class: "form-message", role: "alert" });
  const uses = h("div", { "aria-live": "polite" });
  const form = createForm((made) => {
    fill(
      fresh,
      keyOnce(made, () => clear(fresh), ctx),
    );
    ctx.announce(t("apikeys.created", { id: made.key_id }));
    fresh.querySelector("input")?.focus();
    return load();
  });
  const heading = h("h2", { id: "api-keys-title", tabindex: "-1" }, t("apikeys.title"));
  const section = h(
    "section",
    { class: "card stack", id: "api-keys", "aria-labelledby": heading.id },
    heading,
    h("p", { class: "hint" }, t("apikeys.intro")),
    list,
    message,
    uses,
    fresh,
    form,
  );

  async function load() {
    try {
      const { items } = await api("GET", "/v1/admin/api-keys");
      fill(
        list,
        keyTable(items, (key) => [usesButton(key), key.status === "active" ? revokeButton(key) : null]),
      );
    } catch (error) {
      // Owners only: anyone else sees the API's refusal in place of the keys, and no form to make one.
      fill(list, errorBox(error, { notAvailable: t("common.not_available") }));
      form.hidden = true;
    }
  }

  // A key's uses of the last 7 days (the API's default span), a page at a time: docs/api-keys.md.
  function usesButton(key) {
    const button = h(
      "button",
      { type: "button", class: "ghost", "aria-label": t("apikeys.uses_label", { name: key.name }) },
      t("apikeys.uses"),
    );
    button.addEventListener("click", () => busy(button, () => showUses(key)));
    return button;
  }

  async function showUses(key) {
    const path = `/v1/admin/api-keys/${encodeURIComponent(key.key_id)}/usage?limit=50`;
    const rows = h("div", {});
    const more = h("button", { type: "button", hidden: true }, t("common.more"));
    const title = h("h3", { tabindex: "-1" }, t("apikeys.uses_title", { name: key.name, id: key.key_id }));
    const found = [];
    let cursor = null;
    async function page() {
      try {
        const body = await api("GET", cursor ? `${path}&cursor=${encodeURIComponent(cursor)}` : path);
        found.push(...body.items);
        cursor = body.next_cursor;
        fill(rows, useTable(found));
        more.hidden = !cursor;
      } catch (error) {
        fill(rows, errorBox(error, { notAvailable: t("common.not_available") }));
        more.hidden = true;
      }
    }
    more.addEventListener("click", () => busy(more, page));
    fill(uses, h("div", { class: "stack" }, title, h("p", { class: "hint" }, t("apikeys.uses_intro")), rows, more));
    await page();
    title.focus();
  }

  function revokeButton(key) {
    const button = h(
      "button",
      { type: "button", class: "ghost danger", "aria-label": t("apikeys.revoke_label", { name: key.name }) },
      t("apikeys.revoke"),
    );
    button.addEventListener("click", () => {
      if (!window.confirm(t("apikeys.confirm_revoke", { name: key.name, id: key.key_id }))) return;
      busy(button, async () => {
        clear(message);
        try {
          await api("POST", `/v1/admin/api-keys/${encodeURIComponent(key.key_id)}/revoke`);
          ctx.announce(t("apikeys.revoked_now", { id: key.key_id }));
          await load();
        } catch (error) {
          fill(message, refusal(error));
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

// A name and the scopes (each with what it opens). `made(key)` receives the API's answer, the key in it.
function createForm(made) {
  const name = h("input", { type: "text", name: "name", maxlength: "64", autocomplete: "off", required: true });
  const nameField = field(t("apikeys.name"), name, t("apikeys.name_hint"));
  const boxes = SCOPES.map((scope) =>
    h("input", { type: "checkbox", name: "scopes", value: scope, id: nextId("api-key-scope") }),
  );
  const scopesError = h("p", { class: "field-error", id: "api-key-scopes-error", "aria-live": "polite" });
  const message = h("div", { class: "form-message", role: "alert" });
  const submit = h("button", { type: "submit", class: "primary", id: "api-key-create" }, t("apikeys.create"));
  const heading = h("h3", { id: "api-key-new-title" }, t("apikeys.new"));
  const form = h(
    "form",
    { class: "stack", novalidate: true, "aria-labelledby": heading.id },
    heading,
    nameField,
    h(
      "fieldset",
      { class: "stack", "aria-describedby": scopesError.id },
      h("legend", {}, t("apikeys.scopes")),
      boxes.map(scopeChoice),
      scopesError,
    ),
    submit,
    message,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const scopes = boxes.filter((box) => box.checked).map((box) => box.value);
    nameField.setError(name.value.trim() ? "" : t("apikeys.name_needed"));
    scopesError.textContent = scopes.length ? "" : t("apikeys.scopes_needed");
    if (!name.value.trim() || !scopes.length) {
      (name.value.trim() ? boxes[0] : name).focus();
      return;
    }
    busy(submit, async () => {
      clear(message);
      try {
        const key = await api("POST", "/v1/admin/api-keys", { name: name.value.trim(), scopes });
        form.reset();
        await made(key);
      } catch (error) {
        fill(message, refusal(error));
      }
    });
  });
  return form;
}

// The API's refusal; one for want of an authenticator says where to enrol (a code is asked for by api.js).
function refusal(error) {
  const said = h("p", {}, `${error.message} (${error.code})`);
  if (error.code !== "STEP_UP_REQUIRED" || error.details?.reason !== "not_enrolled") return said;
  return [said, h("p", {}, t("apikeys.enrol_first"), " ", h("a", { href: "#/exports" }, t("apikeys.enrol_link")))];
}

// One scope's checkbox: its name as the label, what it opens as the description.
function scopeChoice(box) {
  const scope = box.value;
  const meaning = h("p", { class: "hint", id: `${box.id}-hint` }, scopeText(scope));
  box.setAttribute("aria-describedby", meaning.id);
  return h(
    "div",
    { class: "scope-choice" },
    h("label", { class: "check", for: box.id }, box, " ", h("code", {}, scope)),
    meaning,
  );
}

// The keys as the API lists them: never a key, only what identifies it (`fsk_{id}_…`, the start of the key).
function keyTable(items, actions) {
  return table(
    [
      { label: t("apikeys.prefix"), cell: (k) => h("code", {}, `fsk_${k.key_id}_…`) },
      { label: t("apikeys.name"), cell: (k) => k.name },
      { label: t("apikeys.scopes"), cell: (k) => (k.scopes || []).map((s) => badge(s)) },
      {
        label: t("apikeys.status"),
        cell: (k) => [
          badge(t(`apikeys.status_${k.status}`, {}, k.status), k.status === "active" ? "active" : "ended"),
          k.revoked_at ? h("div", { class: "hint" }, when(k.revoked_at)) : null,
        ],
      },
      {
        label: t("apikeys.created_at"),
        cell: (k) => [when(k.created_at), k.created_by ? h("div", { class: "hint" }, k.created_by) : null],
      },
      { label: t("apikeys.last_used"), cell: (k) => (k.last_used_at ? when(k.last_used_at) : t("apikeys.never")) },
      { label: t("common.actions"), cell: (k) => actions(k) },
    ],
    items,
    t("apikeys.empty"),
  );
}

// A key's uses, newest first, as the API lists them.
function useTable(items) {
  return table(
    [
      { label: t("apikeys.use_at"), cell: (u) => when(u.at) },
      { label: t("apikeys.use_route"), cell: (u) => h("code", {}, `${u.method} ${u.route}`) },
      { label: t("apikeys.use_status"), cell: (u) => badge(String(u.status), u.status < 400 ? "active" : "ended") },
      { label: t("apikeys.use_request"), cell: (u) => (u.request_id ? h("code", {}, u.request_id) : "") },
      { label: t("apikeys.use_client"), cell: (u) => u.client_ip || "" },
    ],
    items,
    t("apikeys.uses_empty"),
  );
}

// The new key, once: a read-only field with a copy button, the warning, and how a back end sends it.
function keyOnce(made, done, ctx) {
  const key = h("input", {
    id: "api-key-secret",
    class: "code secret",
    readonly: true,
    value: made.key,
    spellcheck: "false",
    autocomplete: "off",
  });
  const copy = h("button", { type: "button", id: "api-key-copy" }, t("apikeys.copy"));
  copy.addEventListener("click", async () =>
    ctx.announce((await copyText(key)) ? t("apikeys.copied") : t("apikeys.copy_failed")),
  );
  const fact = (label, value) => [h("dt", {}, label), h("dd", {}, value)];
  return h(
    "div",
    { class: "notice stack", role: "region", "aria-label": t("apikeys.new_title", { id: made.key_id }) },
    h("h3", {}, t("apikeys.new_title", { id: made.key_id })),
    h("p", { class: "warn" }, h("strong", {}, t("apikeys.once_warning"))),
    field(t("apikeys.key"), key),
    h("div", { class: "actions" }, copy, h("button", { type: "button", onclick: done }, t("apikeys.done"))),
    h(
      "dl",
      { class: "facts" },
      fact(t("apikeys.key_id"), h("code", {}, made.key_id)),
      fact(t("apikeys.name"), made.name),
      fact(
        t("apikeys.scopes"),
        made.scopes.map((s) => badge(s)),
      ),
    ),
    h("p", { class: "hint" }, t("apikeys.how")),
  );
}
