// Login: email, password and, for operators with an authenticator, its code. The field is always shown:
// the API answers a missing code like a wrong password, so it cannot tell the page to ask for one.
import { api, saveSession } from "../api.js";
import { add, busy, field, h } from "../dom.js";
import { t } from "../i18n.js";

export function render(root, _params, ctx) {
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const totp = h("input", {
    type: "text",
    name: "totp",
    inputmode: "numeric",
    autocomplete: "one-time-code",
    pattern: "[0-9]{6}",
    maxlength: "6",
  });
  const totpField = field(t("auth.totp"), totp, t("auth.totp_hint"));
  const message = h("p", { class: "form-message", role: "alert", "aria-live": "assertive" });
  const submit = h("button", { type: "submit", class: "primary" }, t("auth.login"));
  const notice = sessionStorage.getItem("fission:admin:notice");
  sessionStorage.removeItem("fission:admin:notice");

  const form = h(
    "form",
    { class: "card login", novalidate: true },
    h("h1", {}, t("auth.title")),
    notice ? h("p", { class: "notice" }, t(notice)) : null,
    field(t("auth.email"), email),
    field(t("auth.password"), password),
    totpField,
    message,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.textContent = "";
    if (!email.value.trim() || !password.value) {
      message.textContent = t("auth.missing");
      return;
    }
    const body = { email: email.value.trim(), password: password.value };
    if (totp.value.trim()) body.totp = totp.value.trim();
    await busy(submit, async () => {
      try {
        const answer = await api("POST", "/v1/admin/login", body);
        saveSession({ ...answer });
        ctx.announce(t("auth.welcome"));
        const next = sessionStorage.getItem("fission:admin:after-login") || "#/campaigns";
        sessionStorage.removeItem("fission:admin:after-login");
        ctx.navigate(next === "#/login" ? "#/campaigns" : next);
      } catch (error) {
        message.textContent = error.message + (error.code ? ` (${error.code})` : "");
      }
    });
  });
  add(root, form);
  email.focus();
}
