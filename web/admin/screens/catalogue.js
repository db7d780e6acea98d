// Points shop (积分商城, docs/retention.md): the items participants spend points on (price, stock left, an optional
// per-person limit, on sale or paused) and the points policy (how long earned points last). Operators with
// `loyalty:manage` list, create, edit, pause and delete items and save the policy; anyone else sees the API's
// refusal. Only "is it a whole number" is checked here: the API's 422 messages land under their fields.
import { api } from "../api.js";
import { add, badge, busy, clear, errorBox, field, fill, h, loading, table, when } from "../dom.js";
import { t } from "../i18n.js";
import { itemActions, nameCell } from "../items.js";

const WHOLE = /^\d+$/;

// The text of a number input as an integer, null when empty, or NaN when it is not a whole number.
function whole(input) {
  const text = input.value.trim();
  if (!text) return null;
  return WHOLE.test(text) ? Number(text) : Number.NaN;
}

// The API's 422 details under the fields they name ({field: "stock", message: ...}); true if any landed.
function showProblems(error, wraps) {
  let shown = false;
  for (const problem of error.details?.errors || []) {
    const key = String(problem.field || "").split(".")[0];
    if (wraps[key]) {
      wraps[key].setError(problem.message);
      shown = true;
    }
  }
  return shown;
}

export async function render(root, _params, ctx) {
  const list = h("div", { "aria-live": "polite" }, loading(t("common.loading")));
  const message = h("div", { class: "form-message", role: "alert", id: "catalogue-message" });
  const name = h("input", { type: "text", name: "name", maxlength: "64", autocomplete: "off", required: true });
  const description = h("input", { type: "text", name: "description", maxlength: "500", autocomplete: "off" });
  const cost = h("input", { type: "number", name: "cost_points", min: "1", step: "1", inputmode: "numeric" });
  const stock = h("input", { type: "number", name: "stock", min: "0", step: "1", inputmode: "numeric" });
  const limit = h("input", { type: "number", name: "per_person_limit", min: "1", step: "1", inputmode: "numeric" });
  const active = h("input", { type: "checkbox", name: "active", checked: true });
  const wraps = {
    name: field(t("catalogue.name"), name),
    description: field(t("catalogue.description"), description),
    cost_points: field(t("catalogue.cost"), cost, t("catalogue.cost_hint")),
    stock: field(t("catalogue.stock"), stock, t("catalogue.stock_hint")),
    per_person_limit: field(t("catalogue.limit"), limit, t("catalogue.limit_hint")),
    active: field(t("catalogue.active"), active),
  };
  const title = h("h2", { id: "item-form-title" }, t("catalogue.new"));
  const submit = h("button", { type: "submit", class: "primary", id: "item-save" }, t("catalogue.create"));
  const cancel = h("button", { type: "button", class: "ghost", hidden: true }, t("common.cancel"));
  const formMessage = h("div", { class: "form-message", role: "alert" });
  const form = h(
    "form",
    { class: "card stack", novalidate: true, "aria-labelledby": "item-form-title" },
    title,
    ...Object.values(wraps),
    h("div", { class: "actions" }, submit, cancel),
    formMessage,
  );
  const policy = h("div", { "aria-live": "polite" });
  add(
    root,
    h("h1", {}, t("catalogue.title")),
    h("p", { class: "hint" }, t("catalogue.intro")),
    list,
    message,
    form,
    policy,
  );
  let editing = null; // the item being edited, or null for a new one

  function clearErrors() {
    for (const wrap of Object.values(wraps)) wrap.setError("");
    clear(formMessage);
  }

  function reset() {
    editing = null;
    form.reset();
    active.checked = true;
    title.textContent = t("catalogue.new");
    submit.textContent = t("catalogue.create");
    cancel.hidden = true;
    clearErrors();
  }

  function edit(item) {
    editing = item;
    name.value = item.name;
    description.value = item.description || "";
    cost.value = String(item.cost_points);
    stock.value = String(item.stock);
    limit.value = item.per_person_limit == null ? "" : String(item.per_person_limit);
    active.checked = item.active;
    title.textContent = t("catalogue.editing", { name: item.name });
    submit.textContent = t("common.save");
    cancel.hidden = false;
    clearErrors();
    name.focus();
  }

  cancel.addEventListener("click", reset);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors();
    const price = whole(cost);
    const left = whole(stock);
    const most = whole(limit);
    wraps.name.setError(name.value.trim() ? "" : t("catalogue.name_needed"));
    wraps.cost_points.setError(Number.isInteger(price) ? "" : t("catalogue.whole_needed"));
    wraps.stock.setError(Number.isInteger(left) ? "" : t("catalogue.whole_needed"));
    wraps.per_person_limit.setError(most === null || Number.isInteger(most) ? "" : t("catalogue.whole_or_empty"));
    if (form.querySelector("[aria-invalid]")) {
      form.querySelector("[aria-invalid]").focus();
      return;
    }
    const body = {
      name: name.value.trim(),
      description: description.value.trim() || null,
      cost_points: price,
      stock: left,
      per_person_limit: most,
      active: active.checked,
    };
    busy(submit, async () => {
      try {
        if (editing) {
          await api("PATCH", `/v1/admin/loyalty/catalogue/${encodeURIComponent(editing.item_id)}`, body);
          ctx.announce(t("catalogue.saved", { name: body.name }));
        } else {
          await api("POST", "/v1/admin/loyalty/catalogue", body);
          ctx.announce(t("catalogue.created", { name: body.name }));
        }
        reset();
        await load();
      } catch (error) {
        showProblems(error, wraps);
        fill(formMessage, errorBox(error, { alert: false }));
        form.querySelector("[aria-invalid]")?.focus();
      }
    });
  });

  async function load() {
    try {
      const found = await api("GET", "/v1/admin/loyalty/catalogue");
      fill(
        list,
        table(
          [
            { label: t("catalogue.name"), cell: (item) => nameCell(item.name, item.description) },
            { label: t("catalogue.cost"), class: "num", cell: (item) => String(item.cost_points) },
            {
              label: t("catalogue.stock"),
              class: "num",
              cell: (item) => (item.stock > 0 ? String(item.stock) : badge(t("catalogue.sold_out"), "paused")),
            },
            {
              label: t("catalogue.limit"),
              class: "num",
              cell: (item) => (item.per_person_limit == null ? t("catalogue.no_limit") : String(item.per_person_limit)),
            },
            {
              label: t("catalogue.status"),
              cell: (item) =>
                item.active
                  ? badge(t("catalogue.status_active"), "active")
                  : badge(t("catalogue.status_paused"), "paused"),
            },
            { label: t("catalogue.created_at"), cell: (item) => when(item.created_at) },
            { label: t("catalogue.updated_at"), cell: (item) => when(item.updated_at) },
            { label: t("common.actions"), cell: (item) => actions(item) },
          ],
          found.items,
          t("catalogue.empty"),
        ),
      );
      return true;
    } catch (error) {
      // Without `loyalty:manage`: the API's refusal in place of the list, and no forms.
      fill(list, errorBox(error, { notAvailable: t("common.not_available") }));
      form.hidden = true;
      return false;
    }
  }

  function actions(item) {
    return itemActions({
      prefix: "catalogue",
      path: `/v1/admin/loyalty/catalogue/${encodeURIComponent(item.item_id)}`,
      name: item.name,
      active: item.active,
      onEdit: () => edit(item),
      message,
      announce: ctx.announce,
      reload: load,
    });
  }

  if (await load()) await loadPolicy(policy, ctx);
}

// The points policy, replaced whole with one PUT: today only how many days earned points last.
async function loadPolicy(box, ctx) {
  fill(box, loading(t("common.loading")));
  let current;
  try {
    current = await api("GET", "/v1/admin/loyalty/settings");
  } catch (error) {
    fill(box, errorBox(error, { notAvailable: t("common.not_available") }));
    return;
  }
  const expiry = h("input", {
    type: "number",
    name: "expiry_days",
    min: "1",
    step: "1",
    inputmode: "numeric",
    value: String(current.settings.expiry_days),
  });
  const wraps = { expiry_days: field(t("catalogue.expiry_days"), expiry, t("catalogue.expiry_hint")) };
  const status = h(
    "p",
    { class: "hint", role: "status" },
    t(current.configured ? "catalogue.policy_set" : "catalogue.policy_unset"),
  );
  const save = h("button", { type: "submit", class: "primary", id: "policy-save" }, t("catalogue.policy_save"));
  const message = h("div", { class: "form-message", role: "alert" });
  const form = h(
    "form",
    { class: "card stack", novalidate: true, "aria-labelledby": "policy-title" },
    h("h2", { id: "policy-title" }, t("catalogue.policy")),
    status,
    wraps.expiry_days,
    h("div", { class: "actions" }, save),
    message,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    wraps.expiry_days.setError("");
    clear(message);
    const days = whole(expiry);
    if (!Number.isInteger(days)) {
      wraps.expiry_days.setError(t("catalogue.whole_needed"));
      expiry.focus();
      return;
    }
    busy(save, async () => {
      try {
        const saved = await api("PUT", "/v1/admin/loyalty/settings", { expiry_days: days });
        expiry.value = String(saved.settings.expiry_days);
        status.textContent = t("catalogue.policy_set");
        ctx.announce(t("catalogue.policy_saved"));
        fill(message, h("p", { class: "ok" }, t("catalogue.policy_saved")));
      } catch (error) {
        showProblems(error, wraps);
        fill(message, errorBox(error, { alert: false }));
      }
    });
  });
  fill(box, form);
}
