// Connecting WeCom (企业微信), the official account (公众号) and the mini program (docs/wechat.md): one card each
// with the ids and secrets the platform's console issues. Secrets are write-only: the API shows only whether one is
// set, its keyed fingerprint and last four characters; a secret field left empty keeps the stored one. The callback
// URL to paste into the WeCom / WeChat console is shown with a copy button. Saving and disconnecting need the
// owner's fresh TOTP step-up, which api.js asks for (stepup.js).
import { api } from "../api.js";
import { badge, busy, clear, copyText, errorBox, field, fill, h, loading, select, when } from "../dom.js";
import { t } from "../i18n.js";

// Per platform: the fields in the order the console shows them. `secret`: write-only; `int`: sent as a number.
const PLATFORMS = [
  {
    name: "wecom",
    fields: [
      { key: "corp_id", placeholder: "ww0123456789abcdef" },
      { key: "agent_id", int: true },
      { key: "contact_secret", secret: true },
      { key: "callback_token", secret: true },
      { key: "encoding_aes_key", secret: true },
    ],
  },
  {
    name: "wechat",
    fields: [
      { key: "app_id", placeholder: "wx0123456789abcdef" },
      { key: "app_secret", secret: true },
      { key: "callback_token", secret: true },
      { key: "message_mode", options: ["safe", "plain"] },
      { key: "encoding_aes_key", secret: true },
    ],
  },
  {
    name: "miniprogram",
    fields: [
      { key: "app_id", placeholder: "wx0123456789abcdef" },
      { key: "app_secret", secret: true },
    ],
  },
];

export async function render(root, _params, ctx) {
  const cards = PLATFORMS.map((platform) => platformCard(platform, ctx));
  root.append(h("h1", {}, t("platforms.title")), h("p", { class: "hint" }, t("platforms.intro")), ...cards);
  await Promise.all(cards.map((card) => card.load()));
}

function platformCard(platform, ctx) {
  const base = `/v1/admin/platforms/${platform.name}`;
  const id = (key) => `${platform.name}-${key.replaceAll("_", "-")}`;
  const status = h("div", { "aria-live": "polite" }, loading(t("common.loading")));
  const callback = h("div", {});
  const message = h("div", { class: "form-message", role: "alert" });
  const controls = {};
  const wraps = {};
  for (const spec of platform.fields) {
    const control = spec.options
      ? select(
          spec.options.map((o) => [o, t(`platforms.mode_${o}`)]),
          spec.options[0],
          { name: spec.key, id: id(spec.key) },
        )
      : h("input", {
          id: id(spec.key),
          name: spec.key,
          type: spec.int ? "number" : spec.secret ? "password" : "text",
          autocomplete: spec.secret ? "new-password" : "off",
          spellcheck: "false",
          placeholder: spec.placeholder || null,
          min: spec.int ? "1" : null,
        });
    controls[spec.key] = control;
    wraps[spec.key] = field(
      t(`platforms.field_${spec.key}`),
      control,
      t(`platforms.hint_${platform.name}_${spec.key}`, {}, "") || null,
    );
  }
  const save = h("button", { type: "submit", class: "primary", id: `${platform.name}-save` }, t("platforms.save"));
  const disconnect = h("button", { type: "button", class: "ghost danger", hidden: true }, t("platforms.disconnect"));
  const heading = h("h2", { id: `${platform.name}-title` }, t(`platforms.name_${platform.name}`));
  const form = h(
    "form",
    { class: "stack", novalidate: true, "aria-labelledby": heading.id },
    platform.fields.map((spec) => wraps[spec.key]),
    h("div", { class: "actions" }, save, disconnect),
    message,
  );
  const card = h(
    "section",
    { class: "card stack", id: `platform-${platform.name}`, "aria-labelledby": heading.id },
    heading,
    h("p", { class: "hint" }, t(`platforms.about_${platform.name}`)),
    status,
    callback,
    form,
  );

  function show(view) {
    fill(status, connection(platform, view));
    fill(callback, view.callback_url ? callbackField(platform, view.callback_url, ctx) : null);
    for (const spec of platform.fields) {
      const control = controls[spec.key];
      if (spec.secret) {
        // Never filled in: the API holds the secret; the hint says what is stored.
        control.value = "";
        const held = view.secrets[spec.key];
        control.placeholder = held?.set ? t("platforms.keep_secret", { last4: held.last4 }) : "";
      } else if (spec.options) {
        control.value = view[spec.key] || spec.options[0];
      } else {
        control.value = view[spec.key] ?? "";
      }
    }
    disconnect.hidden = !view.connected;
  }

  async function load() {
    try {
      show(await api("GET", base));
    } catch (error) {
      // Owners only: anyone else sees the API's refusal in place of the connection, and no form.
      fill(status, errorBox(error, { notAvailable: t("common.not_available") }));
      form.hidden = true;
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = {};
    for (const spec of platform.fields) {
      wraps[spec.key].setError("");
      const value = controls[spec.key].value.trim();
      if (value === "") continue; // left empty: the stored value stays
      body[spec.key] = spec.int ? Number(value) : value;
    }
    busy(save, async () => {
      clear(message);
      try {
        show(await api("PUT", base, body));
        ctx.announce(t("platforms.saved", { name: t(`platforms.name_${platform.name}`) }));
      } catch (error) {
        fill(message, refusal(error));
        for (const problem of error.details?.errors || []) wraps[problem.field]?.setError(problem.message);
      }
    });
  });

  disconnect.addEventListener("click", () => {
    const name = t(`platforms.name_${platform.name}`);
    if (!window.confirm(t("platforms.confirm_disconnect", { name }))) return;
    busy(disconnect, async () => {
      clear(message);
      try {
        await api("DELETE", base);
        ctx.announce(t("platforms.disconnected", { name }));
        await load();
      } catch (error) {
        fill(message, refusal(error));
      }
    });
  });

  card.load = load;
  return card;
}

// Connected or not, when it changed, and each secret as the API shows it: set, fingerprint, last four.
function connection(platform, view) {
  const fact = (label, value) => [h("dt", {}, label), h("dd", {}, value)];
  const secrets = platform.fields
    .filter((spec) => spec.secret)
    .map((spec) => {
      const held = view.secrets[spec.key];
      const shown = held?.set
        ? [
            badge(t("platforms.set"), "active"),
            " ",
            h("code", { title: t("platforms.fingerprint") }, held.fingerprint),
            " ",
            t("platforms.last4", { last4: held.last4 }),
          ]
        : badge(t("platforms.not_set"), "ended");
      return fact(t(`platforms.field_${spec.key}`), shown);
    });
  return h(
    "dl",
    { class: "facts", id: `${platform.name}-status` },
    fact(
      t("platforms.status"),
      view.connected ? badge(t("platforms.connected"), "active") : badge(t("platforms.not_connected"), "ended"),
    ),
    view.updated_at ? fact(t("platforms.updated_at"), when(view.updated_at)) : null,
    secrets,
  );
}

// The URL the platform's console asks for (服务器地址 / URL), read-only, with a copy button.
function callbackField(platform, url, ctx) {
  const input = h("input", {
    id: `${platform.name}-callback-url`,
    class: "code",
    readonly: true,
    value: url,
    spellcheck: "false",
  });
  const copy = h("button", { type: "button", id: `${platform.name}-callback-copy` }, t("platforms.copy"));
  copy.addEventListener("click", async () =>
    ctx.announce((await copyText(input)) ? t("platforms.copied") : t("platforms.copy_failed")),
  );
  return [field(t("platforms.callback_url"), input, t(`platforms.callback_hint_${platform.name}`)), copy];
}

// The API's refusal; one for want of an authenticator says where to enrol (a code is asked for by api.js).
function refusal(error) {
  const said = h("p", {}, `${error.message} (${error.code})`);
  if (error.code !== "STEP_UP_REQUIRED" || error.details?.reason !== "not_enrolled") return said;
  return [said, h("p", {}, t("apikeys.enrol_first"), " ", h("a", { href: "#/exports" }, t("apikeys.enrol_link")))];
}
