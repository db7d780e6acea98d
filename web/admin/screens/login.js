// Login: email and password; a TOTP field appears when the API answers TOTP_REQUIRED.
import { ApiError, api, saveSession } from "../api.js";
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
  totpField.hidden = true;
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
    if (!totpField.hidden && totp.value.trim()) body.totp = totp.value.trim();
    await busy(submit, async () => {
      try {
        const answer = await api("POST", "/v1/admin/login", body);
        saveSession({ ...answer });
        ctx.announce(t("auth.welcome"));
        const next = sessionStorage.getItem("fission:admin:after-login") || "#/campaigns";
        sessionStorage.removeItem("fission:admin:after-login");
        ctx.navigate(next === "#/login" ? "#/campaigns" : next);
      } catch (error) {
        if (error instanceof ApiError && (error.code === "TOTP_REQUIRED" || error.code === "TOTP_INVALID")) {
          totpField.hidden = false;
          totp.focus();
        }
        message.textContent = error.message + (error.code ? ` (${error.code})` : "");
      }
    });
  });
  add(root, form);
  email.focus();
}
