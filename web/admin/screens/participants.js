// Participants (profiles): search by code, tag or segment; a profile's detail and opt-outs; tags; the
// segment editor with a live preview that marks the parser's error position in the expression.
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
  table,
  when,
  yuan,
} from "../dom.js";
import { t } from "../i18n.js";

const CHANNELS = ["sms", "email", "wecom", "wechat", "console"];

export async function render(root, _params, ctx) {
  const results = h("div", { "aria-live": "polite" });
  const detail = h("div", { class: "detail", "aria-live": "polite" });
  const code = h("input", { type: "search", name: "code" });
  const tag = h("select", { name: "tag" });
  const segment = h("select", { name: "segment" });
  const more = h("button", { type: "button", hidden: true }, t("common.more"));
  const tagsBox = h("div", {});
  const segmentsBox = h("div", {});
  const tagNames = h("datalist", { id: "tag-names" });
  let cursor = null;
  let rows = [];
  let tags = [];
  let segments = [];

  add(
    root,
    tagNames,
    h("h1", {}, t("people.title")),
    h(
      "form",
      {
        class: "filters card",
        role: "search",
        onsubmit: (e) => {
          e.preventDefault();
          search(true);
        },
      },
      field(t("people.code"), code),
      field(t("people.tag"), tag),
      field(t("people.segment"), segment),
      h("button", { type: "submit", class: "primary" }, t("common.search")),
    ),
    results,
    more,
    detail,
    h(
      "div",
      { class: "grid2" },
      h("section", { class: "card" }, h("h2", {}, t("tags.title")), tagsBox),
      h("section", { class: "card" }, h("h2", {}, t("segments.title")), segmentsBox),
    ),
  );
  more.addEventListener("click", () => search(false));

  async function loadLists() {
    [tags, segments] = await Promise.all([
      api("GET", "/v1/admin/tags").then((r) => r.items),
      api("GET", "/v1/admin/segments").then((r) => r.items),
    ]);
    const keepTag = tag.value;
    const keepSegment = segment.value;
    fill(
      tag,
      h("option", { value: "" }, t("common.any")),
      tags.map((x) => h("option", { value: x.name, selected: x.name === keepTag }, x.name)),
    );
    fill(
      segment,
      h("option", { value: "" }, t("common.any")),
      segments.map((x) => h("option", { value: x.id, selected: x.id === keepSegment }, x.name)),
    );
    fill(
      tagNames,
      tags.filter((x) => !x.rule).map((x) => h("option", { value: x.name })),
    );
    drawTags();
    drawSegments();
  }

  async function search(reset) {
    if (reset) {
      cursor = null;
      rows = [];
      fill(results, loading(t("common.loading")));
    }
    try {
      const page = await api(
        "GET",
        `/v1/admin/participants${query({ code: code.value.trim(), tag: tag.value, segment: segment.value, limit: 25, cursor })}`,
      );
      rows = rows.concat(page.items);
      cursor = page.next_cursor;
      more.hidden = !cursor;
      fill(
        results,
        h("p", { class: "hint" }, t("people.found", { n: rows.length, evaluated: num(page.evaluated) })),
        profileTable(rows, (row) => open(row.uid)),
      );
    } catch (error) {
      fill(results, errorBox(error));
    }
  }

  async function open(uid) {
    fill(detail, loading(t("common.loading")));
    try {
      const p = await api("GET", `/v1/admin/participants/${encodeURIComponent(uid)}`);
      const boxes = CHANNELS.map((c) =>
        h(
          "label",
          { class: "check" },
          h("input", {
            type: "checkbox",
            value: c,
            checked: (p.unsubscribed || []).includes(c) || (p.unsubscribed || []).includes("*"),
          }),
          ` ${c}`,
        ),
      );
      const save = h("button", { type: "button" }, t("people.save_optouts"));
      const note = h("span", { role: "status" });
      save.addEventListener("click", () =>
        busy(save, async () => {
          const chosen = boxes
            .map((b) => b.querySelector("input"))
            .filter((i) => i.checked)
            .map((i) => i.value);
          try {
            await api("PUT", `/v1/admin/participants/${encodeURIComponent(uid)}/subscriptions`, {
              unsubscribed: chosen,
            });
            note.textContent = t("common.saved");
          } catch (error) {
            note.textContent = `${error.message} (${error.code})`;
          }
        }),
      );
      fill(
        detail,
        h(
          "section",
          { class: "card" },
          h("h2", {}, `${p.nickname || "–"} `, h("code", {}, p.uid)),
          h(
            "dl",
            { class: "facts" },
            h("dt", {}, t("people.phone")),
            h("dd", {}, p.phone || "–"),
            h("dt", {}, t("people.source")),
            h("dd", {}, p.source || "–"),
            h("dt", {}, t("people.seen")),
            h("dd", {}, `${when(p.first_seen)} → ${when(p.last_seen)}`),
            h("dt", {}, t("people.numbers")),
            h(
              "dd",
              {},
              t("people.numbers_text", {
                invites: p.invites,
                rewards: p.rewards,
                orders: p.orders,
                spend: yuan(p.spend_fen),
              }),
            ),
            h("dt", {}, t("people.codes")),
            h("dd", {}, (p.codes || []).join(", ") || "–"),
            h("dt", {}, t("people.campaigns")),
            h(
              "dd",
              {},
              (p.campaign_ids || []).map((c) => h("a", { href: `#/campaigns/${c}` }, c, " ")),
            ),
          ),
          h("h3", {}, t("people.tags")),
          (p.tag_details || []).length
            ? h(
                "ul",
                {},
                p.tag_details.map((d) =>
                  h("li", {}, badge(d.tag), ` ${t(`tags.source_${d.source}`)} · ${when(d.added_at)}`),
                ),
              )
            : h("p", { class: "muted" }, t("common.none")),
          manualTag(uid, () => open(uid)),
          h("h3", {}, t("people.optouts")),
          h("div", { class: "checks" }, boxes),
          save,
          note,
          h("h3", {}, t("people.messages")),
          table(
            [
              { label: t("outbox.channel"), cell: (m) => m.channel },
              { label: t("outbox.status"), cell: (m) => badge(m.status, m.status) },
              { label: t("outbox.text"), cell: (m) => m.text || "" },
              { label: t("outbox.due"), cell: (m) => when(m.sent_at || m.due_at) },
            ],
            p.messages || [],
            t("people.no_messages"),
          ),
        ),
      );
      detail.querySelector("h2").setAttribute("tabindex", "-1");
      detail.querySelector("h2").focus();
    } catch (error) {
      fill(detail, errorBox(error));
    }
  }

  function drawTags() {
    const name = h("input", { type: "text", name: "tag-name", pattern: "[a-z0-9_]+" });
    const description = h("input", { type: "text", name: "tag-description" });
    const rule = h("input", { type: "text", name: "tag-rule", class: "code" });
    const message = h("p", { role: "status" });
    const addButton = h("button", { type: "submit" }, t("tags.add"));
    const form = h(
      "form",
      { class: "stack" },
      field(t("tags.name"), name, t("tags.name_hint")),
      field(t("tags.description"), description),
      field(t("tags.rule"), rule, t("tags.rule_hint")),
      addButton,
      message,
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      busy(addButton, async () => {
        const body = { name: name.value.trim(), kind: "custom" };
        if (description.value.trim()) body.description = description.value.trim();
        if (rule.value.trim()) body.rule = rule.value.trim();
        try {
          await api("POST", "/v1/admin/tags", body);
          ctx.announce(t("tags.added"));
          await loadLists();
        } catch (error) {
          message.textContent = `${error.message} (${error.code})`;
        }
      });
    });
    fill(
      tagsBox,
      table(
        [
          { label: t("tags.name"), cell: (x) => badge(x.name) },
          { label: t("tags.kind"), cell: (x) => t(`tags.kind_${x.kind}`, {}, x.kind) },
          { label: t("tags.description"), cell: (x) => x.description || "" },
          { label: t("tags.rule"), cell: (x) => (x.rule ? h("code", {}, x.rule) : t("tags.manual")) },
        ],
        tags,
        t("tags.empty"),
      ),
      h("details", {}, h("summary", {}, t("tags.new")), form),
    );
  }

  function drawSegments() {
    fill(
      segmentsBox,
      table(
        [
          { label: t("segments.name"), cell: (s) => s.name },
          { label: t("segments.expression"), cell: (s) => h("code", {}, s.expression) },
          {
            label: t("common.actions"),
            cell: (s) =>
              h(
                "span",
                {},
                h(
                  "button",
                  {
                    type: "button",
                    class: "ghost",
                    onclick: () => {
                      segment.value = s.id;
                      search(true);
                    },
                  },
                  t("segments.members"),
                ),
                h("button", { type: "button", class: "ghost", onclick: () => editor.load(s) }, t("common.edit")),
                h(
                  "button",
                  {
                    type: "button",
                    class: "ghost danger",
                    onclick: async (e) => {
                      if (!window.confirm(t("segments.confirm_delete", { name: s.name }))) return;
                      await busy(e.currentTarget, () =>
                        api("DELETE", `/v1/admin/segments/${encodeURIComponent(s.id)}`).catch((err) =>
                          window.alert(err.message),
                        ),
                      );
                      await loadLists();
                    },
                  },
                  t("common.delete"),
                ),
              ),
          },
        ],
        segments,
        t("segments.empty"),
      ),
      editor.element,
    );
  }

  const editor = segmentEditor(async () => loadLists());
  fill(results, emptyState(t("people.search_hint")));
  await loadLists();
  await search(true);
}

/** Add or remove a manual tag on one person (the bulk assign call with a single uid). */
function manualTag(uid, reopen) {
  const name = h("input", { type: "text", name: "manual-tag", pattern: "[a-z0-9_]+", list: "tag-names" });
  const note = h("span", { role: "status" });
  const act = (remove) => {
    const button = h(
      "button",
      { type: "button", class: remove ? "ghost danger" : "" },
      t(remove ? "people.untag" : "people.tag_add"),
    );
    button.addEventListener("click", () =>
      busy(button, async () => {
        if (!name.value.trim()) {
          note.textContent = t("people.tag_needed");
          return;
        }
        try {
          await api("POST", `/v1/admin/tags/${encodeURIComponent(name.value.trim())}/assign`, { uids: [uid], remove });
          reopen();
        } catch (error) {
          note.textContent = `${error.message} (${error.code})`;
        }
      }),
    );
    return button;
  };
  return h("div", { class: "inline-form" }, field(t("people.manual_tag"), name), act(false), act(true), note);
}

export function profileTable(rows, onOpen) {
  return table(
    [
      {
        label: t("people.nickname"),
        cell: (r) => h("button", { type: "button", class: "link", onclick: () => onOpen(r) }, r.nickname || r.uid),
      },
      { label: t("people.phone"), cell: (r) => r.phone || "–" },
      { label: t("people.tags"), cell: (r) => (r.tags || []).map((x) => badge(x)) },
      { label: t("people.invites"), class: "num", cell: (r) => num(r.invites) },
      { label: t("people.spend"), class: "num", cell: (r) => yuan(r.spend_fen) },
      { label: t("people.codes"), cell: (r) => (r.codes || []).join(", ") },
      { label: t("people.last_seen"), cell: (r) => when(r.last_seen) },
    ],
    rows,
    t("people.empty"),
  );
}

/** The segment editor: name + expression, a debounced preview; INVALID_SEGMENT marks the position. */
function segmentEditor(onSaved) {
  let editing = null;
  const name = h("input", { type: "text", name: "segment-name" });
  const expression = h("textarea", { rows: 3, class: "code", name: "segment-expression", spellcheck: "false" });
  const expressionField = field(t("segments.expression"), expression, t("segments.grammar"));
  const marked = h("pre", { class: "marked", "aria-hidden": "true", hidden: true });
  const preview = h("div", { class: "preview", role: "status", "aria-live": "polite" });
  const save = h("button", { type: "submit", class: "primary" }, t("common.save"));
  const cancel = h("button", { type: "button", hidden: true }, t("common.cancel"));
  const message = h("p", { role: "status" });
  const heading = h("h3", {}, t("segments.new"));
  const form = h(
    "form",
    { class: "stack segment-editor" },
    heading,
    field(t("segments.name"), name),
    expressionField,
    marked,
    preview,
    h("div", { class: "actions" }, cancel, save),
    message,
  );

  const run = debounce(async () => {
    const text = expression.value.trim();
    marked.hidden = true;
    expressionField.setError("");
    if (!text) {
      clear(preview);
      return;
    }
    fill(preview, loading(t("segments.previewing")));
    try {
      const answer = await api("POST", "/v1/admin/segments/preview", { expression: text });
      fill(
        preview,
        h(
          "p",
          {},
          t(answer.truncated ? "segments.count_truncated" : "segments.count", {
            n: num(answer.count),
            evaluated: num(answer.evaluated),
          }),
        ),
        answer.sample?.length ? profileTable(answer.sample, () => {}) : null,
      );
    } catch (error) {
      clear(preview);
      expressionField.setError(error.message);
      if (error instanceof ApiError && error.code === "INVALID_SEGMENT" && Number.isInteger(error.details.position)) {
        const at = Math.min(error.details.position, text.length);
        fill(marked, text.slice(0, at), h("mark", {}, text.slice(at, at + 1) || " "), text.slice(at + 1));
        marked.hidden = false;
        expression.setSelectionRange?.(at, at);
      }
    }
  }, 400);
  expression.addEventListener("input", run);
  cancel.addEventListener("click", () => load(null));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(save, async () => {
      const body = { name: name.value.trim(), expression: expression.value.trim() };
      try {
        if (editing) await api("PATCH", `/v1/admin/segments/${encodeURIComponent(editing.id)}`, body);
        else await api("POST", "/v1/admin/segments", body);
        message.textContent = t("common.saved");
        load(null);
        await onSaved();
      } catch (error) {
        message.textContent = `${error.message} (${error.code})`;
      }
    });
  });

  function load(segment) {
    editing = segment;
    heading.textContent = segment ? t("segments.edit", { name: segment.name }) : t("segments.new");
    name.value = segment?.name || "";
    expression.value = segment?.expression || "";
    cancel.hidden = !segment;
    run();
    if (segment) name.focus();
  }

  return { element: form, load };
}
