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

export async function render(root, params, ctx) {
  const state = { templates: [], industry: null, campaign: null, preview: null, step: 1 };
  const steps = h("ol", { class: "steps", "aria-label": t("wizard.progress") });
  const body = h("div", { class: "wizard-body" });
  add(root, h("h1", {}, t("wizard.title")), steps, body);

  function drawSteps() {
    fill(
      steps,
      ["wizard.step_industry", "wizard.step_template", "wizard.step_rules", "wizard.step_publish"].map((key, i) =>
        h(
          "li",
          {
            class: i + 1 === state.step ? "current" : i + 1 < state.step ? "done" : "",
            "aria-current": i + 1 === state.step ? "step" : false,
          },
          t(key),
        ),
      ),
    );
  }

  function go(step) {
    state.step = step;
    drawSteps();
    clear(body);
    ({ 1: industries, 2: templates, 3: rules, 4: publish })[step]();
    body.querySelector("h2")?.setAttribute("tabindex", "-1");
    body.querySelector("h2")?.focus();
  }

  if (params[0]) {
    add(body, loading(t("common.loading")));
    state.campaign = await api("GET", `/v1/admin/campaigns/${encodeURIComponent(params[0])}`);
    if (state.campaign.status !== "draft") {
      ctx.navigate(`#/campaigns/${state.campaign.campaign_id}`);
      return undefined;
    }
    go(3);
    return undefined;
  }
  add(body, loading(t("common.loading")));
  state.templates = (await api("GET", `/v1/admin/templates${query({ lang: lang() })}`)).items;
  go(1);

  function industries() {
    const names = [...new Set(state.templates.map((tpl) => tpl.industry))];
    add(
      body,
      h("h2", {}, t("wizard.pick_industry")),
      names.length
        ? h(
            "div",
            { class: "choices", role: "list" },
            names.map((name) =>
              h(
                "button",
                {
                  type: "button",
                  class: "choice",
                  role: "listitem",
                  dataset: { industry: name },
                  onclick: () => {
                    state.industry = name;
                    go(2);
                  },
                },
                h("strong", {}, t(`industry.${name}`, {}, name)),
                h(
                  "span",
                  {},
                  t("wizard.n_templates", { n: state.templates.filter((x) => x.industry === name).length }),
                ),
              ),
            ),
          )
        : emptyState(t("wizard.no_templates")),
    );
  }

  function templates() {
    const list = state.templates.filter((tpl) => tpl.industry === state.industry);
    const message = h("p", { class: "form-message", role: "alert" });
    add(
      body,
      h("h2", {}, t("wizard.pick_template", { industry: t(`industry.${state.industry}`, {}, state.industry) })),
      h(
        "div",
        { class: "cards" },
        list.map((tpl) => templateCard(tpl, message)),
      ),
      message,
      h("div", { class: "actions" }, h("button", { type: "button", onclick: () => go(1) }, t("common.back"))),
    );
  }

  function templateCard(tpl, message) {
    const use = h(
      "button",
      { type: "button", class: "primary", dataset: { template: tpl.id } },
      t("wizard.use_template"),
    );
    use.addEventListener("click", () =>
      busy(use, async () => {
        message.textContent = "";
        try {
          state.campaign = await api(
            "POST",
            "/v1/admin/campaigns",
            { template_id: tpl.id, language: lang() },
            { headers: { "Idempotency-Key": `wizard-${tpl.id}-${crypto.randomUUID()}` } },
          );
          ctx.announce(t("wizard.draft_created"));
          history.replaceState(null, "", `#/new/${state.campaign.campaign_id}`);
          go(3);
        } catch (error) {
          message.textContent = `${error.message} (${error.code})`;
        }
      }),
    );
    return h(
      "article",
      { class: "card template" },
      h("h3", {}, tpl.name),
      h("p", {}, badge(t(`mode.${tpl.mode}`), tpl.mode), " ", t("wizard.days", { n: tpl.duration_days })),
      h("p", { class: "muted" }, tpl.summary),
      use,
    );
  }

  function rules() {
    const c = state.campaign;
    const status = h("p", { class: "save-status", role: "status", "aria-live": "polite" });
    const general = h("ul", { class: "errors", "aria-live": "polite" });
    const controls = {};
    const fields = {};
    const text = (name, value, attrs = {}) => {
      const input = h(attrs.multiline ? "textarea" : "input", {
        name,
        value: value ?? "",
        rows: attrs.multiline ? attrs.rows || 4 : false,
        type: attrs.multiline ? false : attrs.type || "text",
        dataset: { path: name },
      });
      controls[name] = input;
      return input;
    };
    const local = (iso) => (iso ? String(iso).slice(0, 16) : "");
    fields.title = field(t("wizard.f_title"), text("title", c.title));
    fields.description = field(
      t("wizard.f_description"),
      text("description", c.description, { multiline: true, rows: 3 }),
    );
    fields.starts_at = field(
      t("wizard.f_starts"),
      text("starts_at", local(c.starts_at), { type: "datetime-local" }),
      t("wizard.utc"),
    );
    fields.ends_at = field(
      t("wizard.f_ends"),
      text("ends_at", local(c.ends_at), { type: "datetime-local" }),
      t("wizard.utc"),
    );
    fields.rule_text = field(t("wizard.f_rule_text"), text("rule_text", c.rule_text, { multiline: true, rows: 6 }));

    let rulesValue = structuredClone(c.rules || {});
    const ladder = h("div", { class: "ladder" });
    const json = h("textarea", { rows: 14, spellcheck: "false", class: "code", dataset: { path: "rules" } });
    const jsonField = field(t("wizard.f_json"), json, t("wizard.json_hint"));
    const advanced = h("details", { class: "advanced" }, h("summary", {}, t("wizard.advanced")), jsonField);

    function drawLadder() {
      clear(ladder);
      if (!LADDER_MODES.has(c.mode)) {
        fill(ladder, h("p", { class: "hint" }, t("wizard.mode_json_only", { mode: t(`mode.${c.mode}`) })));
        advanced.open = true;
        return;
      }
      const milestones = rulesValue.milestones || [];
      fill(
        ladder,
        h("h3", {}, t("wizard.milestones")),
        milestones.map((m, i) => milestoneRow(m, i)),
        h(
          "button",
          {
            type: "button",
            onclick: () => {
              const last = milestones[milestones.length - 1];
              milestones.push({
                invites: (last?.invites || 0) + 1,
                reward: { type: "coupon", name: t("wizard.new_reward"), value_fen: 500 },
              });
              rulesValue.milestones = milestones;
              changed(true);
            },
          },
          t("wizard.add_milestone"),
        ),
      );
    }

    function milestoneRow(m, i) {
      const path = `rules.milestones.${i}`;
      const reward = m.reward || {};
      const input = (key, value, attrs, label, apply) => {
        const el = h("input", { ...attrs, value: value ?? "", dataset: { path: `${path}.${key}` } });
        el.addEventListener("input", () => {
          apply(el.value);
          changed(false);
        });
        controls[`${path}.${key}`] = el;
        fields[`${path}.${key}`] = field(label, el);
        return fields[`${path}.${key}`];
      };
      const type = select(
        REWARD_TYPES.map((x) => [x, t(`reward.${x}`)]),
        reward.type,
        { dataset: { path: `${path}.reward.type` } },
      );
      type.addEventListener("change", () => {
        m.reward = { ...m.reward, type: type.value };
        changed(false);
      });
      controls[`${path}.reward.type`] = type;
      const invites = input(
        "invites",
        m.invites,
        { type: "number", min: 1 },
        t("wizard.f_invites"),
        (v) => (m.invites = Number(v)),
      );
      fields[`${path}.reward.type`] = field(t("wizard.f_reward_type"), type);
      return h(
        "fieldset",
        { class: "milestone" },
        h("legend", {}, t("wizard.milestone_n", { n: i + 1 })),
        invites,
        fields[`${path}.reward.type`],
        input(
          "reward.name",
          reward.name,
          { type: "text" },
          t("wizard.f_reward_name"),
          (v) => (m.reward = { ...m.reward, name: v }),
        ),
        input(
          "reward.value_fen",
          reward.value_fen !== undefined ? (reward.value_fen / 100).toFixed(2) : "",
          { type: "number", min: 0, step: "0.01" },
          t("wizard.f_value_yuan"),
          (v) => (m.reward = { ...m.reward, value_fen: Math.round(Number(v) * 100) }),
        ),
        input(
          "reward.stock",
          reward.stock ?? "",
          { type: "number", min: 0 },
          t("wizard.f_stock"),
          (v) => (m.reward = { ...m.reward, stock: v === "" ? null : Number(v) }),
        ),
        h(
          "button",
          {
            type: "button",
            class: "ghost danger",
            onclick: () => {
              rulesValue.milestones.splice(i, 1);
              changed(true);
            },
          },
          t("wizard.remove_milestone", { n: i + 1 }),
        ),
      );
    }

    function syncJson() {
      json.value = JSON.stringify(rulesValue, null, 2);
    }

    function changed(redraw) {
      if (redraw) drawLadder();
      syncJson();
      save();
    }

    json.addEventListener("input", () => {
      try {
        rulesValue = JSON.parse(json.value);
        jsonField.setError("");
        drawLadder();
        save();
      } catch (error) {
        jsonField.setError(t("wizard.json_invalid", { message: error.message }));
      }
    });
    for (const name of ["title", "description", "starts_at", "ends_at", "rule_text"]) {
      controls[name].addEventListener("input", () => save());
    }

    function document_() {
      const iso = (value) => (value ? `${value}:00Z` : null);
      return {
        title: controls.title.value,
        description: controls.description.value,
        starts_at: iso(controls.starts_at.value),
        ends_at: iso(controls.ends_at.value),
        rule_text: controls.rule_text.value,
        rules: rulesValue,
      };
    }

    function showErrors(errors) {
      for (const f of Object.values(fields)) f.setError("");
      jsonField.setError("");
      clear(general);
      for (const error of errors) {
        const parts = String(error.field || "").split(".");
        if (parts[0] === c.mode) parts.shift();
        const path = parts.join(".");
        const target = fields[path];
        if (target) target.setError(error.message);
        else if (path.startsWith("rules")) {
          jsonField.setError(`${path}: ${error.message}`);
          advanced.open = true;
        } else add(general, h("li", {}, path ? `${path}: ${error.message}` : error.message));
      }
    }

    let saving = 0;
    const save = debounce(async () => {
      const ticket = ++saving;
      status.textContent = t("wizard.saving");
      try {
        const updated = await api("PATCH", `/v1/admin/campaigns/${encodeURIComponent(c.campaign_id)}`, document_());
        if (ticket !== saving) return;
        state.campaign = updated;
        showErrors([]);
        status.textContent = t("wizard.saved");
        next.disabled = false;
      } catch (error) {
        if (ticket !== saving) return;
        next.disabled = true;
        if (error instanceof ApiError && error.status === 422) {
          showErrors(error.details.errors || [{ field: "", message: error.message }]);
          status.textContent = t("wizard.invalid");
        } else {
          status.textContent = `${error.message} (${error.code})`;
        }
      }
    }, 500);

    const next = h("button", { type: "button", class: "primary" }, t("wizard.to_publish"));
    next.addEventListener("click", () =>
      busy(next, async () => {
        save.cancel();
        try {
          state.campaign = await api("PATCH", `/v1/admin/campaigns/${encodeURIComponent(c.campaign_id)}`, document_());
          go(4);
        } catch (error) {
          if (error instanceof ApiError && error.status === 422) showErrors(error.details.errors || []);
          status.textContent = `${error.message} (${error.code})`;
        }
      }),
    );
    drawLadder();
    syncJson();
    add(
      body,
      h("h2", {}, t("wizard.edit_rules")),
      h("p", {}, badge(t(`mode.${c.mode}`), c.mode), " ", h("code", {}, c.campaign_id)),
      h(
        "form",
        { class: "rules-form", novalidate: true, onsubmit: (e) => e.preventDefault() },
        fields.title,
        h("div", { class: "grid2" }, fields.starts_at, fields.ends_at),
        fields.description,
        fields.rule_text,
        ladder,
        advanced,
        general,
      ),
      h("div", { class: "actions spread" }, status, next),
    );
  }

  async function publish() {
    const c = state.campaign;
    const findings = h("div", { "aria-live": "polite" }, loading(t("wizard.checking")));
    const costs = h("div", {});
    const message = h("div", { class: "form-message", role: "alert" });
    const publishButton = h("button", { type: "button", class: "primary", id: "publish" }, t("wizard.publish"));
    add(
      body,
      h("h2", {}, t("wizard.review", { title: c.title })),
      h("section", {}, h("h3", {}, t("wizard.findings")), findings),
      h("section", {}, h("h3", {}, t("wizard.costs")), costs),
      message,
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", onclick: () => go(3) }, t("wizard.back_to_rules")),
        publishButton,
      ),
    );
    try {
      const preview = await api("POST", `/v1/admin/campaigns/${encodeURIComponent(c.campaign_id)}/preview`, {});
      fill(findings, findingList(preview.findings));
      fill(costs, costTable(preview.simulation));
      if (preview.blocking) add(message, h("p", { class: "warn" }, t("wizard.blocking")));
    } catch (error) {
      fill(findings, errorBox(error, { alert: false }));
    }
    publishButton.addEventListener("click", () => busy(publishButton, () => doPublish(false)));

    async function doPublish(override) {
      clear(message);
      try {
        const path = `/v1/admin/campaigns/${encodeURIComponent(c.campaign_id)}/publish${override ? "?override=value_cap" : ""}`;
        state.campaign = await api("POST", path);
        ctx.announce(t("wizard.published"));
        published();
      } catch (error) {
        add(message, h("p", {}, `${error.message} (${error.code})`));
        const blocking = error.details?.findings || [];
        if (error.code === "COMPLIANCE_BLOCKED") {
          add(message, findingList(blocking));
          const onlyCap = blocking.length && blocking.every((f) => f.code === "REWARD_VALUE_CAP");
          if (onlyCap && ctx.session?.role === "owner") {
            const confirm = h("input", { type: "checkbox", id: "override-confirm" });
            const overrideButton = h(
              "button",
              { type: "button", class: "danger", disabled: true },
              t("wizard.override"),
            );
            confirm.addEventListener("change", () => (overrideButton.disabled = !confirm.checked));
            overrideButton.addEventListener("click", () => busy(overrideButton, () => doPublish(true)));
            add(
              message,
              h(
                "div",
                { class: "override card" },
                h("p", {}, t("wizard.override_explain")),
                h("p", {}, confirm, " ", h("label", { for: "override-confirm" }, t("wizard.override_confirm"))),
                overrideButton,
              ),
            );
          } else if (onlyCap) {
            add(message, h("p", {}, t("wizard.override_owner_only")));
          }
        }
      }
    }

    function published() {
      clear(body);
      const landing = new URL(`../l/?campaign=${encodeURIComponent(c.campaign_id)}`, location.href).href;
      add(
        body,
        h("h2", {}, t("wizard.live_title")),
        h("p", { class: "ok", role: "status" }, t("wizard.live_text", { title: state.campaign.title })),
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
  }
}

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
