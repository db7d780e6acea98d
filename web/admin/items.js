// What the screens of operator-defined items (tasks, the points shop's items) share: a name cell with its
// description, and the row's edit / pause-resume / delete buttons. Strings come from the screen's own keys
// (`{prefix}.edit_label`, `.pause`, `.pause_label`, `.paused_now`, `.resume`, `.resume_label`, `.resumed_now`,
// `.delete_label`, `.deleted_now`, `.confirm_delete`), each taking the item's `{name}`.
import { api } from "./api.js";
import { busy, clear, errorBox, fill, h } from "./dom.js";
import { t } from "./i18n.js";

export function nameCell(name, description) {
  return [h("strong", {}, name), description ? h("div", { class: "hint" }, description) : null];
}

// `path` is the item's API path; `onEdit` opens the screen's form on it; a change is announced and `reload`ed,
// a refusal shown in `message`.
export function itemActions({ prefix, path, name, active, onEdit, message, announce, reload }) {
  const say = (key) => t(`${prefix}.${key}`, { name });
  const act = (label, aria, work, done, kind = "ghost") => {
    const button = h("button", { type: "button", class: kind, "aria-label": aria }, label);
    button.addEventListener("click", () => {
      const run = work();
      if (run === null) return;
      busy(button, async () => {
        clear(message);
        try {
          await run();
          announce(done);
          await reload();
        } catch (error) {
          fill(message, errorBox(error));
        }
      });
    });
    return button;
  };
  const change = h("button", { type: "button", class: "ghost", "aria-label": say("edit_label") }, t("common.edit"));
  change.addEventListener("click", onEdit);
  const toggle = active
    ? act(say("pause"), say("pause_label"), () => () => api("PATCH", path, { active: false }), say("paused_now"))
    : act(say("resume"), say("resume_label"), () => () => api("PATCH", path, { active: true }), say("resumed_now"));
  const remove = act(
    t("common.delete"),
    say("delete_label"),
    () => (window.confirm(say("confirm_delete")) ? () => api("DELETE", path) : null),
    say("deleted_now"),
    "ghost danger",
  );
  return h("div", { class: "actions" }, change, toggle, remove);
}
