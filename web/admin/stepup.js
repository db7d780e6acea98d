// The TOTP step-up prompt. Sensitive calls (secrets, keys, owners and roles, export files) answer
// 403 STEP_UP_REQUIRED unless the operator signed in with a code in the last 15 minutes; this asks for
// the authenticator's current code in a modal, and api.js sends the call again with it (X-Fission-TOTP).
import { onStepUp } from "./api.js";
import { field, h } from "./dom.js";
import { t } from "./i18n.js";

let pending = null;

export function installStepUp() {
  onStepUp((error) => {
    // Calls refused together share one prompt; each sends the code it gets (a code works once, so the
    // second call may be asked again with the next code).
    pending ??= ask(error).finally(() => {
      pending = null;
    });
    return pending;
  });
}

/** Resolves to the six digits entered, or null when the operator cancels (Cancel or Escape). */
function ask(error) {
  return new Promise((resolve) => {
    const code = h("input", {
      type: "text",
      inputmode: "numeric",
      autocomplete: "one-time-code",
      pattern: "[0-9]{6}",
      maxlength: "6",
      name: "stepup-code",
    });
    const wrong = error.details.reason === "invalid_code";
    const message = h("p", { class: "form-message", role: "alert" }, wrong ? t("stepup.invalid") : "");
    const confirm = h("button", { type: "submit", class: "primary" }, t("stepup.confirm"));
    const cancel = h("button", { type: "button" }, t("common.cancel"));
    const form = h(
      "form",
      { class: "stack", novalidate: true },
      h("h2", { id: "stepup-title" }, t("stepup.title")),
      h("p", { class: "hint" }, t("stepup.intro")),
      field(t("stepup.code"), code, t("stepup.hint")),
      message,
      h("div", { class: "actions" }, confirm, cancel),
    );
    const dialog = h("dialog", { class: "card stepup", "aria-labelledby": "stepup-title" }, form);
    let answer = null;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const value = code.value.trim();
      if (!/^[0-9]{6}$/.test(value)) {
        message.textContent = t("stepup.six_digits");
        code.focus();
        return;
      }
      answer = value;
      dialog.close();
    });
    cancel.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(answer);
    });
    document.body.append(dialog);
    dialog.showModal();
    code.focus();
  });
}
