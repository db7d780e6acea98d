// Automation rules: list, enable/disable, create and edit (trigger, conditions, delay, up to 5 actions).
import { ApiError, api } from "../api.js";
import { add, badge, busy, clear, errorBox, field, fill, h, loading, select, table } from "../dom.js";
import { t } from "../i18n.js";

export async function render(root, _params, ctx) {
  const list = h("div", { "aria-live": "polite" }, loading(t("common.loading")));
  const editorBox = h("div", {});
  const newButton = h("button", { type: "button", class: "primary" }, t("auto.new"));
  add(
    root,
    h("div", { class: "toolbar" }, h("h1", {}, t("auto.title")), newButton),
    h("p", { class: "hint" }, t("auto.intro")),
    list,
    editorBox,
  );
  let campaigns = [];
  // What a rule may name (triggers, actions, channels, templates), read from the API once per visit.
  const catalog = api("GET", "/v1/admin/automations/catalog")
    .then(catalogLists)
    .catch((error) => ({ error }));
  newButton.addEventListener("click", () => edit(null));

  async function load() {
    try {
      const items = (await api("GET", "/v1/admin/automations")).items;
      fill(
        list,
        table(
          [
            { label: t("auto.name"), cell: (a) => a.name },
            { label: t("auto.trigger"), cell: (a) => triggerText(a.trigger) },
            { label: t("auto.conditions"), cell: (a) => (a.conditions ? h("code", {}, a.conditions) : "–") },
            { label: t("auto.delay"), class: "num", cell: (a) => t("auto.minutes", { n: a.delay_minutes }) },
            { label: t("auto.actions"), cell: (a) => a.actions.map((x) => badge(t(`auto.a_${x.type}`))) },
            { label: t("auto.enabled"), cell: (a) => toggle(a) },
            {
              label: t("common.actions"),
              cell: (a) =>
                h(
                  "span",
                  {},
                  h("button", { type: "button", class: "ghost", onclick: () => edit(a) }, t("common.edit")),
                  h(
                    "button",
                    { type: "button", class: "ghost danger", onclick: (e) => remove(a, e.currentTarget) },
                    t("common.delete"),
                  ),
                ),
            },
          ],
          items,
          t("auto.empty"),
        ),
      );
    } catch (error) {
      fill(list, errorBox(error, { notAvailable: t("common.not_available") }));
    }
  }

  function triggerText(trigger) {
    let text = t(`trigger.${trigger.type}`, {}, trigger.type);
    if (trigger.days) text += ` · ${t("auto.days_n", { n: trigger.days })}`;
    if (trigger.hours_before) text += ` · ${t("auto.hours_n", { n: trigger.hours_before })}`;
    if (trigger.campaign_id) text += ` · ${trigger.campaign_id}`;
    return text;
  }

  function toggle(a) {
    const box = h("input", { type: "checkbox", checked: a.enabled, "aria-label": `${t("auto.enabled")}: ${a.name}` });
    box.addEventListener("change", async () => {
      box.disabled = true;
      try {
        await api("PATCH", `/v1/admin/automations/${encodeURIComponent(a.id)}`, { enabled: box.checked });
        ctx.announce(box.checked ? t("auto.on", { name: a.name }) : t("auto.off", { name: a.name }));
      } catch (error) {
        box.checked = !box.checked;
        window.alert(error.message);
      } finally {
        box.disabled = false;
      }
    });
    return box;
  }

  async function remove(a, button) {
    if (!window.confirm(t("auto.confirm_delete", { name: a.name }))) return;
    await busy(button, async () => {
      try {
        await api("DELETE", `/v1/admin/automations/${encodeURIComponent(a.id)}`);
      } catch (error) {
        window.alert(error.message);
      }
    });
    await load();
  }

  async function edit(existing) {
    if (!campaigns.length)
      campaigns = (await api("GET", "/v1/admin/campaigns?limit=50").catch(() => ({ items: [] }))).items;
    const lists = await catalog;
    if (lists.error) {
      showCatalogError(lists.error);
      return;
    }
    fill(
      editorBox,
      automationForm(existing, campaigns, lists, async () => {
        clear(editorBox);
        await load();
      }),
    );
    editorBox.querySelector("h2").focus();
  }

  function showCatalogError(error) {
    fill(editorBox, errorBox(error, { notAvailable: t("common.not_available") }));
  }

  await load();
  const lists = await catalog;
  if (lists.error) showCatalogError(lists.error);
}

/** The catalogue's lists as the form uses them: every trigger, the event ones first, then the scheduled. */
function catalogLists(catalog) {
  return {
    triggers: [...catalog.event_triggers, ...catalog.scheduled_triggers],
    actions: catalog.actions,
    channels: catalog.channels,
    templates: catalog.templates,
  };
}

function automationForm(existing, campaigns, catalog, done) {
  const a = existing
    ? structuredClone(existing)
    : {
        name: "",
        enabled: true,
        trigger: { type: "joined" },
        conditions: null,
        delay_minutes: 0,
        actions: [{ type: "send_message", channel: "console", template: "welcome" }],
      };
  const name = h("input", { type: "text", value: a.name, name: "name", required: true });
  const trigger = select(
    catalog.triggers.map((x) => [x, t(`trigger.${x}`, {}, x)]),
    a.trigger.type,
    { name: "trigger" },
  );
  const campaign = select(
    [["", t("auto.any_campaign")], ...campaigns.map((c) => [c.campaign_id, c.title])],
    a.trigger.campaign_id || "",
    { name: "campaign" },
  );
  const days = h("input", { type: "number", min: 1, max: 365, value: a.trigger.days ?? 30, name: "days" });
  const hours = h("input", {
    type: "number",
    min: 1,
    max: 72,
    value: a.trigger.hours_before ?? 2,
    name: "hours_before",
  });
  const conditions = h("input", { type: "text", class: "code", value: a.conditions || "", name: "conditions" });
  const delay = h("input", { type: "number", min: 0, value: a.delay_minutes, name: "delay" });
  const enabled = h("input", { type: "checkbox", checked: a.enabled, id: "auto-enabled" });
  const campaignField = field(t("auto.campaign"), campaign);
  const daysField = field(t("auto.days"), days);
  const hoursField = field(t("auto.hours_before"), hours);
  const actionsBox = h("div", {});
  const message = h("div", { class: "form-message", role: "alert" });
  const save = h("button", { type: "submit", class: "primary" }, t("common.save"));

  function syncTrigger() {
    daysField.hidden = trigger.value !== "inactive";
    hoursField.hidden = trigger.value !== "group.deadline";
    campaignField.hidden = ["inactive", "birthday", "tier_changed", "churn_risk"].includes(trigger.value);
  }
  trigger.addEventListener("change", syncTrigger);
  syncTrigger();

  function drawActions() {
    fill(
      actionsBox,
      a.actions.map((action, i) => actionRow(action, i)),
      a.actions.length < 5
        ? h(
            "button",
            {
              type: "button",
              onclick: () => {
                a.actions.push({ type: "add_tag", tag: "" });
                drawActions();
              },
            },
            t("auto.add_action"),
          )
        : null,
    );
  }

  function actionRow(action, i) {
    const type = select(
      catalog.actions.map((x) => [x, t(`auto.a_${x}`)]),
      action.type,
      { "aria-label": t("auto.action_type") },
    );
    type.addEventListener("change", () => {
      a.actions[i] = {
        type: type.value,
        ...(type.value === "send_message" ? { channel: "console", template: "welcome" } : {}),
      };
      drawActions();
    });
    const fields = [];
    const input = (label, value, set) => {
      const el = h("input", { type: "text", value: value ?? "" });
      el.addEventListener("input", () => set(el.value));
      fields.push(field(label, el));
    };
    if (action.type === "send_message") {
      const channel = select(
        catalog.channels.map((c) => [c, c]),
        action.channel,
      );
      channel.addEventListener("change", () => (action.channel = channel.value));
      fields.push(field(t("outbox.channel"), channel));
      const custom = typeof action.template === "object";
      const tpl = select(
        [...catalog.templates.map((x) => [x, t(`tpl.${x}`, {}, x)]), ["custom", t("auto.custom_text")]],
        custom ? "custom" : action.template,
      );
      fields.push(field(t("auto.template"), tpl));
      const zh = h("textarea", { rows: 2, value: custom ? action.template.zh || "" : "" });
      const en = h("textarea", { rows: 2, value: custom ? action.template.en || "" : "" });
      const zhField = field(t("auto.text_zh"), zh, t("auto.placeholders"));
      const enField = field(t("auto.text_en"), en);
      const syncCustom = () => {
        const isCustom = tpl.value === "custom";
        zhField.hidden = enField.hidden = !isCustom;
        action.template = isCustom ? { zh: zh.value, en: en.value } : tpl.value;
      };
      tpl.addEventListener("change", syncCustom);
      zh.addEventListener("input", syncCustom);
      en.addEventListener("input", syncCustom);
      syncCustom();
      fields.push(zhField, enField);
    } else if (action.type === "add_tag" || action.type === "remove_tag") {
      input(t("tags.name"), action.tag, (v) => (action.tag = v.trim()));
    } else if (action.type === "call_webhook") {
      input(t("auto.url"), action.url, (v) => (action.url = v.trim()));
    } else if (action.type === "issue_reward") {
      action.reward ??= { type: "points", name: "", points: 100 };
      input(t("wizard.f_reward_name"), action.reward.name, (v) => (action.reward.name = v));
      const points = h("input", { type: "number", min: 1, value: action.reward.points });
      points.addEventListener("input", () => (action.reward.points = Number(points.value)));
      fields.push(field(t("auto.points"), points));
    }
    return h(
      "fieldset",
      { class: "action" },
      h("legend", {}, t("auto.action_n", { n: i + 1 })),
      field(t("auto.action_type"), type),
      fields,
      a.actions.length > 1
        ? h(
            "button",
            {
              type: "button",
              class: "ghost danger",
              onclick: () => {
                a.actions.splice(i, 1);
                drawActions();
              },
            },
            t("auto.remove_action"),
          )
        : null,
    );
  }
  drawActions();

  const form = h(
    "form",
    { class: "card stack", novalidate: true },
    h("h2", { tabindex: "-1" }, existing ? t("auto.edit", { name: existing.name }) : t("auto.new")),
    field(t("auto.name"), name),
    h("div", { class: "grid2" }, field(t("auto.trigger"), trigger), campaignField, daysField, hoursField),
    field(t("auto.conditions"), conditions, t("auto.conditions_hint")),
    field(t("auto.delay_label"), delay),
    h("p", {}, enabled, " ", h("label", { for: "auto-enabled" }, t("auto.enabled"))),
    h("h3", {}, t("auto.actions")),
    actionsBox,
    message,
    h("div", { class: "actions" }, h("button", { type: "button", onclick: () => done() }, t("common.cancel")), save),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const triggerBody = { type: trigger.value };
    if (!campaignField.hidden && campaign.value) triggerBody.campaign_id = campaign.value;
    if (trigger.value === "inactive") triggerBody.days = Number(days.value);
    if (trigger.value === "group.deadline") triggerBody.hours_before = Number(hours.value);
    const body = {
      name: name.value.trim(),
      enabled: enabled.checked,
      trigger: triggerBody,
      conditions: conditions.value.trim() || null,
      delay_minutes: Number(delay.value || 0),
      actions: a.actions,
    };
    busy(save, async () => {
      clear(message);
      try {
        if (existing) await api("PATCH", `/v1/admin/automations/${encodeURIComponent(existing.id)}`, body);
        else await api("POST", "/v1/admin/automations", body);
        await done();
      } catch (error) {
        add(message, h("p", {}, `${error.message} (${error.code})`));
        if (error instanceof ApiError) {
          const errors = error.details?.errors || [];
          if (errors.length)
            add(
              message,
              h(
                "ul",
                {},
                errors.map((e) => h("li", {}, `${e.field}: ${e.message}`)),
              ),
            );
          if (Number.isInteger(error.details?.position))
            add(message, h("p", {}, t("auto.condition_position", { n: error.details.position })));
        }
      }
    });
  });
  return form;
}
