// Create from a template: industry -> template -> rules (form + JSON editor, saved and validated live)
// -> compliance findings and cost preview -> publish (with the owner's value-cap override when needed).
import { ApiError, api, query } from "../api.js";
import {
  add,
  badge,
  busy,
  clear,
  debounce,
  emptyState,
  errorBox,
  field,
  fill,
  h,
  loading,
  num,
  select,
  table,
  yuan,
} from "../dom.js";
import { lang, t } from "../i18n.js";

const REWARD_TYPES = ["coupon", "gift", "points", "cash", "custom"];
const LADDER_MODES = new Set(["invite", "poster"]);
const STEP_KEYS = ["wizard.step_industry", "wizard.step_template", "wizard.step_rules", "wizard.step_publish"];
const STEP_SCREENS = { 1: industryStep, 2: templateStep, 3: rulesStep, 4: publishStep };
const META_NAMES = [
  "title",
  "description",
  "starts_at",
  "ends_at",
  "rule_text",
  "reward_delay_hours",
  "approval_above_fen",
];
// Who joins (docs/identity.md). Platform logins are not offered: Fission has none yet.
const IDENTITY_MODES = ["signed", "anonymous"];

/**
 * The wizard. Every step takes `wiz`: its `state` (templates, industry, campaign, preview, step), the
 * progress list `steps`, the step's container `body`, the app's `ctx`, and `go(step)` to move on.
 */
export async function render(root, params, ctx) {
  const wiz = {
    state: { templates: [], industry: null, campaign: null, preview: null, step: 1 },
    steps: h("ol", { class: "steps", "aria-label": t("wizard.progress") }),
    body: h("div", { class: "wizard-body" }),
    ctx,
  };
  wiz.go = (step) => go(wiz, step);
  add(root, h("h1", {}, t("wizard.title")), wiz.steps, wiz.body);

  if (params[0]) {
    add(wiz.body, loading(t("common.loading")));
    wiz.state.campaign = await api("GET", `/v1/admin/campaigns/${encodeURIComponent(params[0])}`);
    if (wiz.state.campaign.status !== "draft") {
      ctx.navigate(`#/campaigns/${wiz.state.campaign.campaign_id}`);
      return undefined;
    }
    wiz.go(3);
    return undefined;
  }
  add(wiz.body, loading(t("common.loading")));
  wiz.state.templates = (await api("GET", `/v1/admin/templates${query({ lang: lang() })}`)).items;
  wiz.go(1);
}

// The progress list above the steps: done, current and coming.
function drawSteps(wiz) {
  const step = wiz.state.step;
  fill(
    wiz.steps,
    STEP_KEYS.map((key, i) =>
      h(
        "li",
        {
          class: i + 1 === step ? "current" : i + 1 < step ? "done" : "",
          "aria-current": i + 1 === step ? "step" : false,
        },
        t(key),
      ),
    ),
  );
}

// Opens a step: the progress list, the step's content, focus on its heading.
function go(wiz, step) {
  wiz.state.step = step;
  drawSteps(wiz);
  clear(wiz.body);
  STEP_SCREENS[step](wiz);
  wiz.body.querySelector("h2")?.setAttribute("tabindex", "-1");
  wiz.body.querySelector("h2")?.focus();
}

// ---- steps 1 and 2: industry, then template ----------------------------------------------------

// Step 1: one button per industry that has templates.
function industryStep(wiz) {
  const names = [...new Set(wiz.state.templates.map((tpl) => tpl.industry))];
  add(
    wiz.body,
    h("h2", {}, t("wizard.pick_industry")),
    names.length
      ? h(
          "div",
          { class: "choices", role: "list" },
          names.map((name) => industryChoice(wiz, name)),
        )
      : emptyState(t("wizard.no_templates")),
  );
}

// An industry's button, with how many templates it has.
function industryChoice(wiz, name) {
  return h(
    "button",
    {
      type: "button",
      class: "choice",
      role: "listitem",
      dataset: { industry: name },
      onclick: () => {
        wiz.state.industry = name;
        wiz.go(2);
      },
    },
    h("strong", {}, t(`industry.${name}`, {}, name)),
    h("span", {}, t("wizard.n_templates", { n: wiz.state.templates.filter((x) => x.industry === name).length })),
  );
}

// Step 2: the industry's templates as cards, and Back.
function templateStep(wiz) {
  const { state } = wiz;
  const list = state.templates.filter((tpl) => tpl.industry === state.industry);
  const message = h("p", { class: "form-message", role: "alert" });
  add(
    wiz.body,
    h("h2", {}, t("wizard.pick_template", { industry: t(`industry.${state.industry}`, {}, state.industry) })),
    h(
      "div",
      { class: "cards" },
      list.map((tpl) => templateCard(wiz, tpl, message)),
    ),
    message,
    h("div", { class: "actions" }, h("button", { type: "button", onclick: () => wiz.go(1) }, t("common.back"))),
  );
}

// A template's card: name, mode, duration, summary, and the button that creates the draft from it.
function templateCard(wiz, tpl, message) {
  const use = h(
    "button",
    { type: "button", class: "primary", dataset: { template: tpl.id } },
    t("wizard.use_template"),
  );
  use.addEventListener("click", () => busy(use, () => createDraft(wiz, tpl, message)));
  return h(
    "article",
    { class: "card template" },
    h("h3", {}, tpl.name),
    h("p", {}, badge(t(`mode.${tpl.mode}`), tpl.mode), " ", t("wizard.days", { n: tpl.duration_days })),
    h("p", { class: "muted" }, tpl.summary),
    use,
  );
}

// The draft is created at once, so every later edit is a PATCH; the URL then names it.
async function createDraft(wiz, tpl, message) {
  message.textContent = "";
  try {
    wiz.state.campaign = await api(
      "POST",
      "/v1/admin/campaigns",
      { template_id: tpl.id, language: lang() },
      { headers: { "Idempotency-Key": `wizard-${tpl.id}-${crypto.randomUUID()}` } },
    );
    wiz.ctx.announce(t("wizard.draft_created"));
    history.replaceState(null, "", `#/new/${wiz.state.campaign.campaign_id}`);
    wiz.go(3);
  } catch (error) {
    message.textContent = `${error.message} (${error.code})`;
  }
}

// ---- step 3: the rules ---------------------------------------------------------------------------

/**
 * The rules form and JSON editor, saved 0.5 s after the last change. `ed` holds the campaign `c` as
 * the step opened it, the form's `controls` and `fields` by path, the rules being edited
 * (`rulesValue`), the ladder, the JSON editor and its field, the save status and the Next button.
 */
function rulesStep(wiz) {
  const c = wiz.state.campaign;
  const ed = {
    wiz,
    c,
    status: h("p", { class: "save-status", role: "status", "aria-live": "polite" }),
    general: h("ul", { class: "errors", "aria-live": "polite" }),
    controls: {},
    fields: {},
  };
  metaFields(ed);
  ed.identity = identityChoice(ed);
  ed.rulesValue = structuredClone(c.rules || {});
  ed.ladder = h("div", { class: "ladder" });
  ed.json = h("textarea", { rows: 14, spellcheck: "false", class: "code", dataset: { path: "rules" } });
  ed.jsonField = field(t("wizard.f_json"), ed.json, t("wizard.json_hint"));
  ed.advanced = h("details", { class: "advanced" }, h("summary", {}, t("wizard.advanced")), ed.jsonField);
  ed.json.addEventListener("input", () => onJsonInput(ed));
  for (const name of META_NAMES) ed.controls[name].addEventListener("input", () => ed.save());
  ed.save = autosave(ed);
  ed.next = nextButton(ed);
  drawLadder(ed);
  syncJson(ed);
  add(wiz.body, rulesLayout(ed));
}

// The campaign's own fields: title, description, start and end (UTC) and the rule text.
function metaFields(ed) {
  const { c, fields } = ed;
  const local = (iso) => (iso ? String(iso).slice(0, 16) : "");
  fields.title = field(t("wizard.f_title"), textControl(ed, "title", c.title));
  fields.description = field(
    t("wizard.f_description"),
    textControl(ed, "description", c.description, { multiline: true, rows: 3 }),
  );
  fields.starts_at = field(
    t("wizard.f_starts"),
    textControl(ed, "starts_at", local(c.starts_at), { type: "datetime-local" }),
    t("wizard.utc"),
  );
  fields.ends_at = field(
    t("wizard.f_ends"),
    textControl(ed, "ends_at", local(c.ends_at), { type: "datetime-local" }),
    t("wizard.utc"),
  );
  fields.rule_text = field(
    t("wizard.f_rule_text"),
    textControl(ed, "rule_text", c.rule_text, { multiline: true, rows: 6 }),
  );
  // The merchant's veto before a reward is issued (docs/rewards-veto.md). The validation URL sends data out, so
  // it is the owner's with a step-up and is set through the API, not this autosaving form.
  fields.reward_delay_hours = field(
    t("wizard.f_reward_delay"),
    textControl(ed, "reward_delay_hours", c.reward_delay_hours ?? 0, { type: "number" }),
    t("wizard.reward_delay_hint"),
  );
  fields.approval_above_fen = field(
    t("wizard.f_approval_above"),
    textControl(ed, "approval_above_fen", c.approval_above_fen ?? "", { type: "number" }),
    t("wizard.approval_above_hint"),
  );
}

// The identity choice: signed (the merchant's server vouches for its logged-in user; new campaigns start so)
// or anonymous (the built-in landing pages mint an identity). A campaign stored without one reads as anonymous.
function identityChoice(ed) {
  const current = ed.c.identity?.mode || "anonymous";
  const keysLink = h("a", { href: "#/webhooks/identity-keys" }, t("wizard.identity_keys_link"));
  return h(
    "fieldset",
    { class: "identity" },
    h("legend", {}, t("wizard.identity")),
    IDENTITY_MODES.map((mode) => {
      const input = h("input", { type: "radio", name: "identity", value: mode, checked: current === mode });
      input.addEventListener("change", () => ed.save());
      const hint = h("p", { class: "hint", id: `identity-${mode}-hint` }, t(`wizard.identity_${mode}_hint`));
      if (mode === "signed") hint.append(" ", keysLink);
      input.setAttribute("aria-describedby", hint.id);
      return h("div", {}, h("label", { class: "check" }, input, t(`wizard.identity_${mode}`)), hint);
    }),
  );
}

// An input (or, with `multiline`, a textarea) for one of the campaign's fields, kept in `controls`.
function textControl(ed, name, value, attrs = {}) {
  const input = h(attrs.multiline ? "textarea" : "input", {
    name,
    value: value ?? "",
    rows: attrs.multiline ? attrs.rows || 4 : false,
    type: attrs.multiline ? false : attrs.type || "text",
    dataset: { path: name },
  });
  ed.controls[name] = input;
  return input;
}

// The step's page: heading, mode and id, the form (fields, ladder, JSON editor, other errors), Next.
function rulesLayout(ed) {
  const { c, fields } = ed;
  return [
    h("h2", {}, t("wizard.edit_rules")),
    h("p", {}, badge(t(`mode.${c.mode}`), c.mode), " ", h("code", {}, c.campaign_id)),
    h(
      "form",
      { class: "rules-form", novalidate: true, onsubmit: (e) => e.preventDefault() },
      fields.title,
      h("div", { class: "grid2" }, fields.starts_at, fields.ends_at),
      fields.description,
      fields.rule_text,
      h(
        "fieldset",
        { class: "veto" },
        h("legend", {}, t("wizard.veto")),
        h("div", { class: "grid2" }, fields.reward_delay_hours, fields.approval_above_fen),
      ),
      ed.identity,
      ed.ladder,
      ed.advanced,
      ed.general,
    ),
    h("div", { class: "actions spread" }, ed.status, ed.next),
  ];
}

// The reward ladder as a form (invite and poster modes); other modes edit their rules as JSON only.
function drawLadder(ed) {
  const { c, ladder } = ed;
  clear(ladder);
  if (!LADDER_MODES.has(c.mode)) {
    fill(ladder, h("p", { class: "hint" }, t("wizard.mode_json_only", { mode: t(`mode.${c.mode}`) })));
    ed.advanced.open = true;
    return;
  }
  const milestones = ed.rulesValue.milestones || [];
  fill(
    ladder,
    h("h3", {}, t("wizard.milestones")),
    milestones.map((m, i) => milestoneRow(ed, m, i)),
    addMilestoneButton(ed, milestones),
  );
}

// Adds a step one invite above the last, with a 5-yuan coupon to edit.
function addMilestoneButton(ed, milestones) {
  return h(
    "button",
    {
      type: "button",
      onclick: () => {
        const last = milestones[milestones.length - 1];
        milestones.push({
          invites: (last?.invites || 0) + 1,
          reward: { type: "coupon", name: t("wizard.new_reward"), value_fen: 500 },
        });
        ed.rulesValue.milestones = milestones;
        changed(ed, true);
      },
    },
    t("wizard.add_milestone"),
  );
}

// One ladder step: invites needed, its reward (type, name, value in yuan, stock) and a remove button.
function milestoneRow(ed, m, i) {
  const path = `rules.milestones.${i}`;
  const reward = m.reward || {};
  const input = (key, value, attrs, label, apply) => milestoneInput(ed, `${path}.${key}`, value, attrs, label, apply);
  const type = rewardTypeSelect(ed, m, `${path}.reward.type`, reward.type);
  const invites = input(
    "invites",
    m.invites,
    { type: "number", min: 1 },
    t("wizard.f_invites"),
    (v) => (m.invites = Number(v)),
  );
  ed.fields[`${path}.reward.type`] = field(t("wizard.f_reward_type"), type);
  return h(
    "fieldset",
    { class: "milestone" },
    h("legend", {}, t("wizard.milestone_n", { n: i + 1 })),
    invites,
    ed.fields[`${path}.reward.type`],
    input("reward.name", reward.name, { type: "text" }, t("wizard.f_reward_name"), (v) => {
      m.reward = { ...m.reward, name: v };
    }),
    input(
      "reward.value_fen",
      reward.value_fen !== undefined ? (reward.value_fen / 100).toFixed(2) : "",
      { type: "number", min: 0, step: "0.01" },
      t("wizard.f_value_yuan"),
      (v) => (m.reward = { ...m.reward, value_fen: Math.round(Number(v) * 100) }),
    ),
    input("reward.stock", reward.stock ?? "", { type: "number", min: 0 }, t("wizard.f_stock"), (v) => {
      m.reward = { ...m.reward, stock: v === "" ? null : Number(v) };
    }),
    removeMilestoneButton(ed, i),
  );
}

// A ladder input, kept in `controls` and `fields` under its path so the API's errors land beside it.
function milestoneInput(ed, path, value, attrs, label, apply) {
  const el = h("input", { ...attrs, value: value ?? "", dataset: { path } });
  el.addEventListener("input", () => {
    apply(el.value);
    changed(ed, false);
  });
  ed.controls[path] = el;
  ed.fields[path] = field(label, el);
  return ed.fields[path];
}

function rewardTypeSelect(ed, m, path, value) {
  const type = select(
    REWARD_TYPES.map((x) => [x, t(`reward.${x}`)]),
    value,
    { dataset: { path } },
  );
  type.addEventListener("change", () => {
    m.reward = { ...m.reward, type: type.value };
    changed(ed, false);
  });
  ed.controls[path] = type;
  return type;
}

function removeMilestoneButton(ed, i) {
  return h(
    "button",
    {
      type: "button",
      class: "ghost danger",
      onclick: () => {
        ed.rulesValue.milestones.splice(i, 1);
        changed(ed, true);
      },
    },
    t("wizard.remove_milestone", { n: i + 1 }),
  );
}

function syncJson(ed) {
  ed.json.value = JSON.stringify(ed.rulesValue, null, 2);
}

// A form edit: redraw the ladder when steps came or went, mirror the rules as JSON, save.
function changed(ed, redraw) {
  if (redraw) drawLadder(ed);
  syncJson(ed);
  ed.save();
}

// An edit in the JSON editor replaces the rules once it parses; the ladder follows.
function onJsonInput(ed) {
  try {
    ed.rulesValue = JSON.parse(ed.json.value);
    ed.jsonField.setError("");
    drawLadder(ed);
    ed.save();
  } catch (error) {
    ed.jsonField.setError(t("wizard.json_invalid", { message: error.message }));
  }
}

// The PATCH body: the campaign's fields (the window back in UTC), the identity mode and the rules. A mode
// the choice does not offer (platform) stays as stored until the operator picks one.
function rulesDocument(ed) {
  const { controls } = ed;
  const iso = (value) => (value ? `${value}:00Z` : null);
  const mode = ed.identity.querySelector("input:checked")?.value;
  return {
    ...(mode ? { identity: { mode } } : {}),
    title: controls.title.value,
    description: controls.description.value,
    starts_at: iso(controls.starts_at.value),
    ends_at: iso(controls.ends_at.value),
    rule_text: controls.rule_text.value,
    reward_delay_hours: Number(controls.reward_delay_hours.value || 0),
    approval_above_fen: controls.approval_above_fen.value === "" ? null : Number(controls.approval_above_fen.value),
    rules: ed.rulesValue,
  };
}

// The API's 422 errors beside their fields; other rules paths under the JSON editor, the rest below the form.
function showErrors(ed, errors) {
  for (const f of Object.values(ed.fields)) f.setError("");
  ed.jsonField.setError("");
  clear(ed.general);
  for (const error of errors) {
    const parts = String(error.field || "").split(".");
    if (parts[0] === ed.c.mode) parts.shift();
    const path = parts.join(".");
    const target = ed.fields[path];
    if (target) target.setError(error.message);
    else if (path.startsWith("rules")) {
      ed.jsonField.setError(`${path}: ${error.message}`);
      ed.advanced.open = true;
    } else add(ed.general, h("li", {}, path ? `${path}: ${error.message}` : error.message));
  }
}

// The debounced save: only the latest PATCH's answer counts; Next is enabled while the draft is valid.
function autosave(ed) {
  let saving = 0;
  return debounce(async () => {
    const ticket = ++saving;
    ed.status.textContent = t("wizard.saving");
    try {
      const updated = await api(
        "PATCH",
        `/v1/admin/campaigns/${encodeURIComponent(ed.c.campaign_id)}`,
        rulesDocument(ed),
      );
      if (ticket !== saving) return;
      ed.wiz.state.campaign = updated;
      showErrors(ed, []);
      ed.status.textContent = t("wizard.saved");
      ed.next.disabled = false;
    } catch (error) {
      if (ticket !== saving) return;
      ed.next.disabled = true;
      if (error instanceof ApiError && error.status === 422) {
        showErrors(ed, error.details.errors || [{ field: "", message: error.message }]);
        ed.status.textContent = t("wizard.invalid");
      } else {
        ed.status.textContent = `${error.message} (${error.code})`;
      }
    }
  }, 500);
}

// Next: saves at once (no waiting for the debounce) and opens the publish step if the API accepts it.
function nextButton(ed) {
  const next = h("button", { type: "button", class: "primary" }, t("wizard.to_publish"));
  next.addEventListener("click", () =>
    busy(next, async () => {
      ed.save.cancel();
      try {
        ed.wiz.state.campaign = await api(
          "PATCH",
          `/v1/admin/campaigns/${encodeURIComponent(ed.c.campaign_id)}`,
          rulesDocument(ed),
        );
        ed.wiz.go(4);
      } catch (error) {
        if (error instanceof ApiError && error.status === 422) showErrors(ed, error.details.errors || []);
        ed.status.textContent = `${error.message} (${error.code})`;
      }
    }),
  );
  return next;
}

// ---- step 4: checks and publish ------------------------------------------------------------------

/**
 * The compliance findings and the cost simulation, then Publish. `pub` holds the campaign `c` as the
 * step opened it, the findings and costs boxes, the message area and the Publish button.
 */
async function publishStep(wiz) {
  const c = wiz.state.campaign;
  const pub = {
    wiz,
    c,
    findings: h("div", { "aria-live": "polite" }, loading(t("wizard.checking"))),
    costs: h("div", {}),
    message: h("div", { class: "form-message", role: "alert" }),
    button: h("button", { type: "button", class: "primary", id: "publish" }, t("wizard.publish")),
  };
  add(
    wiz.body,
    h("h2", {}, t("wizard.review", { title: c.title })),
    h("section", {}, h("h3", {}, t("wizard.findings")), pub.findings),
    h("section", {}, h("h3", {}, t("wizard.costs")), pub.costs),
    pub.message,
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", onclick: () => wiz.go(3) }, t("wizard.back_to_rules")),
      pub.button,
    ),
  );
  await showPreview(pub);
  pub.button.addEventListener("click", () => busy(pub.button, () => doPublish(pub, false)));
}

// POST .../preview: the findings, the cost table and, when something blocks, a warning.
async function showPreview(pub) {
  try {
    const preview = await api("POST", `/v1/admin/campaigns/${encodeURIComponent(pub.c.campaign_id)}/preview`, {});
    fill(pub.findings, findingList(preview.findings));
    fill(pub.costs, costTable(preview.simulation));
    if (preview.blocking) add(pub.message, h("p", { class: "warn" }, t("wizard.blocking")));
  } catch (error) {
    fill(pub.findings, errorBox(error, { alert: false }));
  }
}

// Publishes (with `override`, past the value cap); a refusal shows its message and blocking findings.
async function doPublish(pub, override) {
  const { wiz, c, message } = pub;
  clear(message);
  try {
    const path = `/v1/admin/campaigns/${encodeURIComponent(c.campaign_id)}/publish${override ? "?override=value_cap" : ""}`;
    wiz.state.campaign = await api("POST", path);
    wiz.ctx.announce(t("wizard.published"));
    showPublished(wiz, c);
  } catch (error) {
    add(message, h("p", {}, `${error.message} (${error.code})`));
    const blocking = error.details?.findings || [];
    if (error.code === "COMPLIANCE_BLOCKED") showBlocked(pub, blocking);
  }
}

// The blocking findings; when the value cap is the only one, an owner may override it, others are told so.
function showBlocked(pub, blocking) {
  add(pub.message, findingList(blocking));
  const onlyCap = blocking.length && blocking.every((f) => f.code === "REWARD_VALUE_CAP");
  if (onlyCap && pub.wiz.ctx.session?.role === "owner") {
    add(pub.message, overrideCard(pub));
  } else if (onlyCap) {
    add(pub.message, h("p", {}, t("wizard.override_owner_only")));
  }
}

// The owner's override: a confirmation checkbox that enables the publish-anyway button.
function overrideCard(pub) {
  const confirm = h("input", { type: "checkbox", id: "override-confirm" });
  const overrideButton = h("button", { type: "button", class: "danger", disabled: true }, t("wizard.override"));
  confirm.addEventListener("change", () => (overrideButton.disabled = !confirm.checked));
  overrideButton.addEventListener("click", () => busy(overrideButton, () => doPublish(pub, true)));
  return h(
    "div",
    { class: "override card" },
    h("p", {}, t("wizard.override_explain")),
    h("p", {}, confirm, " ", h("label", { for: "override-confirm" }, t("wizard.override_confirm"))),
    overrideButton,
  );
}

// The campaign is live: the landing page's link, and the way to its dashboard or the list.
function showPublished(wiz, c) {
  clear(wiz.body);
  const landing = new URL(`../l/?campaign=${encodeURIComponent(c.campaign_id)}`, location.href).href;
  add(
    wiz.body,
    h("h2", {}, t("wizard.live_title")),
    h("p", { class: "ok", role: "status" }, t("wizard.live_text", { title: wiz.state.campaign.title })),
    h(
      "p",
      {},
      t("wizard.landing"),
      " ",
      h("a", { href: landing, target: "_blank", rel: "noopener", id: "landing-link" }, landing),
    ),
    h(
      "div",
      { class: "actions" },
      h("a", { class: "button primary", href: `#/campaigns/${c.campaign_id}` }, t("wizard.open_dashboard")),
      h("a", { class: "button", href: "#/campaigns" }, t("nav.campaigns")),
    ),
  );
}

// The compliance findings, each with its severity, code, field and message.
export function findingList(findings) {
  if (!findings?.length) return h("p", { class: "ok" }, t("wizard.no_findings"));
  return h(
    "ul",
    { class: "findings" },
    findings.map((f) =>
      h(
        "li",
        { class: f.severity },
        badge(t(`severity.${f.severity}`), f.severity),
        " ",
        h("code", {}, f.code),
        " ",
        h("span", { class: "muted" }, f.field),
        h("div", {}, f.message),
      ),
    ),
  );
}

// The cost simulation: one row per seed scenario, with the assumed K above it.
function costTable(simulation) {
  if (!simulation?.scenarios?.length) return h("p", {}, t("common.none"));
  return h(
    "div",
    {},
    h("p", { class: "hint" }, t("wizard.cost_assumption", { k: num(simulation.k, 2) })),
    table(
      [
        { label: t("wizard.c_seed"), class: "num", cell: (s) => num(s.participants) },
        { label: t("wizard.c_total"), class: "num", cell: (s) => num(s.total_participants) },
        { label: t("wizard.c_expected"), class: "num", cell: (s) => yuan(s.expected_spend_fen) },
        { label: t("wizard.c_capped"), class: "num", cell: (s) => yuan(s.capped_spend_fen) },
        {
          label: t("wizard.c_budget"),
          cell: (s) => (s.budget_exhausted ? t("wizard.exhausted") : s.budget_fen ? yuan(s.budget_fen) : "–"),
        },
      ],
      simulation.scenarios,
    ),
  );
}
