// Tasks (游戏化任务, docs/retention.md): daily, weekly and one-off tasks that count a fact (joins, invites, helps,
// paid orders, check-ins, page views) up to a target and credit points once per period. Operators with
// `loyalty:manage` list, create, edit, pause and delete them; anyone else sees the API's refusal.
import { api } from "../api.js";
import { add, badge, busy, clear, errorBox, field, fill, h, loading, select, table, when } from "../dom.js";
import { t } from "../i18n.js";
import { itemActions, nameCell } from "../items.js";

const PERIODS = ["daily", "weekly", "once"];
const FACTS = ["joined", "invited", "helped", "order_paid", "checked_in", "viewed"];

export async function render(root, _params, ctx) {
  const list = h("div", { "aria-live": "polite" }, loading(t("common.loading")));
  const message = h("div", { class: "form-message", role: "alert", id: "tasks-message" });
  const name = h("input", { type: "text", name: "name", maxlength: "64", autocomplete: "off", required: true });
  const description = h("input", { type: "text", name: "description", maxlength: "500", autocomplete: "off" });
  const period = select(
    PERIODS.map((p) => [p, t(`tasks.period_${p}`)]),
    "daily",
    { name: "period" },
  );
  const fact = select(
    FACTS.map((f) => [f, t(`tasks.fact_${f}`)]),
    "invited",
    { name: "fact" },
  );
  const target = h("input", { type: "number", name: "target", min: "1", max: "100", step: "1", value: "1" });
  const points = h("input", { type: "number", name: "points", min: "1", max: "1000000", step: "1", value: "10" });
  const campaign = h("input", { type: "text", name: "campaign_id", maxlength: "64", autocomplete: "off" });
  const active = h("input", { type: "checkbox", name: "active", checked: true });
  const nameField = field(t("tasks.name"), name);
  const targetField = field(t("tasks.target"), target, t("tasks.target_hint"));
  const pointsField = field(t("tasks.points"), points);
  const title = h("h2", { id: "task-form-title" }, t("tasks.new"));
  const submit = h("button", { type: "submit", class: "primary", id: "task-save" }, t("tasks.create"));
  const cancel = h("button", { type: "button", class: "ghost", hidden: true }, t("common.cancel"));
  const formMessage = h("div", { class: "form-message", role: "alert" });
  const form = h(
    "form",
    { class: "card stack", novalidate: true, "aria-labelledby": "task-form-title" },
    title,
    nameField,
    field(t("tasks.description"), description),
    field(t("tasks.fact"), fact),
    targetField,
    field(t("tasks.period"), period, t("tasks.period_hint")),
    pointsField,
    field(t("tasks.campaign"), campaign, t("tasks.campaign_hint")),
    field(t("tasks.active"), active),
    h("div", { class: "actions" }, submit, cancel),
    formMessage,
  );
  add(root, h("h1", {}, t("tasks.title")), h("p", { class: "hint" }, t("tasks.intro")), list, message, form);
  let editing = null; // the task being edited, or null for a new one

  function reset() {
    editing = null;
    form.reset();
    active.checked = true;
    title.textContent = t("tasks.new");
    submit.textContent = t("tasks.create");
    cancel.hidden = true;
    clear(formMessage);
  }

  function edit(task) {
    editing = task;
    name.value = task.name;
    description.value = task.description || "";
    period.value = task.period;
    fact.value = task.fact;
    target.value = String(task.target);
    points.value = String(task.reward.points);
    campaign.value = task.campaign_id || "";
    active.checked = task.active;
    title.textContent = t("tasks.editing", { name: task.name });
    submit.textContent = t("common.save");
    cancel.hidden = false;
    clear(formMessage);
    name.focus();
  }

  cancel.addEventListener("click", reset);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const wanted = Number(target.value);
    const reward = Number(points.value);
    nameField.setError(name.value.trim() ? "" : t("tasks.name_needed"));
    targetField.setError(Number.isInteger(wanted) && wanted >= 1 && wanted <= 100 ? "" : t("tasks.target_needed"));
    pointsField.setError(Number.isInteger(reward) && reward >= 1 ? "" : t("tasks.points_needed"));
    if (form.querySelector("[aria-invalid]")) {
      form.querySelector("[aria-invalid]").focus();
      return;
    }
    const body = {
      name: name.value.trim(),
      description: description.value.trim() || null,
      period: period.value,
      fact: fact.value,
      target: wanted,
      reward: { points: reward },
      campaign_id: campaign.value.trim() || null,
      active: active.checked,
    };
    busy(submit, async () => {
      clear(formMessage);
      try {
        if (editing) {
          await api("PATCH", `/v1/admin/loyalty/tasks/${encodeURIComponent(editing.task_id)}`, body);
          ctx.announce(t("tasks.saved", { name: body.name }));
        } else {
          await api("POST", "/v1/admin/loyalty/tasks", body);
          ctx.announce(t("tasks.created", { name: body.name }));
        }
        reset();
        await load();
      } catch (error) {
        fill(formMessage, errorBox(error, { alert: false }));
      }
    });
  });

  async function load() {
    try {
      const found = await api("GET", "/v1/admin/loyalty/tasks");
      fill(
        list,
        table(
          [
            { label: t("tasks.name"), cell: (task) => nameCell(task.name, task.description) },
            { label: t("tasks.goal"), cell: (task) => t(`tasks.goal_${task.fact}`, { n: task.target }) },
            { label: t("tasks.period"), cell: (task) => t(`tasks.period_${task.period}`) },
            { label: t("tasks.points"), class: "num", cell: (task) => String(task.reward.points) },
            {
              label: t("tasks.campaign"),
              cell: (task) => (task.campaign_id ? h("code", {}, task.campaign_id) : t("tasks.all_campaigns")),
            },
            {
              label: t("tasks.status"),
              cell: (task) =>
                task.active ? badge(t("tasks.status_active"), "active") : badge(t("tasks.status_paused"), "paused"),
            },
            { label: t("tasks.updated_at"), cell: (task) => when(task.updated_at) },
            { label: t("common.actions"), cell: (task) => actions(task) },
          ],
          found.tasks,
          t("tasks.empty"),
        ),
      );
    } catch (error) {
      // Without `loyalty:manage`: the API's refusal in place of the list, and no form.
      fill(list, errorBox(error, { notAvailable: t("common.not_available") }));
      form.hidden = true;
    }
  }

  function actions(task) {
    return itemActions({
      prefix: "tasks",
      path: `/v1/admin/loyalty/tasks/${encodeURIComponent(task.task_id)}`,
      name: task.name,
      active: task.active,
      onEdit: () => edit(task),
      message,
      announce: ctx.announce,
      reload: load,
    });
  }

  await load();
}
