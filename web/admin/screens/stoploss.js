// A campaign's budget stop-loss lines (docs/retention.md): one per channel and one for the whole campaign, amounts
// in yuan on screen and fen on the wire, replaced whole; the trips the minute's check recorded, and the owner's
// release of a held channel. Resuming a paused campaign is the dashboard's publish (owners only after a trip).
import { api } from "../api.js";
import { add, busy, errorBox, fill, h, loading, when, yuan } from "../dom.js";
import { t } from "../i18n.js";

const COLUMNS = [
  ["channel", "text"],
  ["spend_fen", "yuan"],
  ["cac_fen", "yuan"],
  ["min_sample", "int"],
  ["window_days", "int"],
];

export async function render(root, params, ctx) {
  const cid = params[0];
  const body = h("div", { class: "stack" }, loading(t("common.loading")));
  add(
    root,
    h(
      "div",
      { class: "toolbar" },
      h("h1", {}, t("sl.title")),
      h("a", { class: "button", href: `#/campaigns/${cid}` }, t("sl.back")),
    ),
    h("p", { class: "hint" }, t("sl.intro")),
    body,
  );
  const owner = ctx.session?.role === "owner";

  async function load() {
    try {
      draw(await api("GET", `/v1/admin/campaigns/${encodeURIComponent(cid)}/stop-loss`));
    } catch (error) {
      fill(body, errorBox(error));
    }
  }

  function draw(view, note = null) {
    fill(body, stateSection(view), linesForm(view, note));
  }

  function stateSection(view) {
    const items = [];
    if (view.stop_loss_paused_at) {
      items.push(h("p", { class: "error-box" }, t("sl.paused", { when: when(view.stop_loss_paused_at) })));
    }
    for (const channel of view.held_channels) {
      const release = owner
        ? h("button", { type: "button" }, t("sl.release", { channel }))
        : h("span", { class: "hint" }, t("sl.owner_only"));
      if (owner) {
        release.addEventListener("click", () =>
          busy(release, async () => {
            try {
              const path = `/v1/admin/campaigns/${encodeURIComponent(cid)}/stop-loss/channels/${encodeURIComponent(channel)}/release`;
              draw(await api("POST", path));
              ctx.announce(t("sl.released", { channel }));
            } catch (error) {
              fill(body, errorBox(error));
            }
          }),
        );
      }
      items.push(h("p", { class: "held" }, t("sl.held", { channel }), " ", release));
    }
    if (!items.length) items.push(h("p", { class: "ok" }, t("sl.clear")));
    return h("section", { class: "card stack", "aria-label": t("sl.state") }, items);
  }

  function linesForm(view, note) {
    const rows = h("tbody", {});
    const message = h("div", { class: "form-message", role: "alert" }, note ? h("p", { class: "ok" }, note) : null);
    const addLine = h("button", { type: "button" }, t("sl.add"));
    const save = h("button", { type: "submit", class: "primary" }, t("common.save"));
    const addRow = (line) => rows.append(row(line, rows));
    for (const line of view.lines) addRow(line);
    addLine.addEventListener("click", () => addRow({}));
    const form = h(
      "form",
      { class: "card stack", novalidate: true, "aria-label": t("sl.lines") },
      h("h2", {}, t("sl.lines")),
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          {},
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              COLUMNS.map(([key]) => h("th", {}, t(`sl.${key}`))),
              h("th", {}, t("sl.trip")),
              h("th", {}, ""),
            ),
          ),
          rows,
        ),
      ),
      h("div", { class: "actions" }, addLine, save),
      message,
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      fill(message);
      const { lines, problems } = read(rows);
      if (problems.length) {
        fill(message, h("p", {}, problems.join(" ")));
        return;
      }
      busy(save, async () => {
        try {
          const path = `/v1/admin/campaigns/${encodeURIComponent(cid)}/stop-loss`;
          draw(await api("PUT", path, { lines }), t("sl.saved"));
          ctx.announce(t("sl.saved"));
        } catch (error) {
          const details = (error.details?.errors || []).map((e) => `${e.field}: ${e.message}`).join(" ");
          fill(message, h("p", {}, `${error.message} (${error.code}) ${details}`));
        }
      });
    });
    return form;
  }

  await load();
}

function row(line, rows) {
  const inputs = Object.fromEntries(
    COLUMNS.map(([key, kind]) => [
      key,
      h("input", {
        type: "text",
        inputmode: kind === "text" ? "text" : kind === "yuan" ? "decimal" : "numeric",
        autocomplete: "off",
        "aria-label": t(`sl.${key}`),
        value: shown(kind, line[key]),
        placeholder: key === "channel" ? t("sl.whole") : key === "window_days" ? t("sl.lifetime") : "",
      }),
    ]),
  );
  const remove = h("button", { type: "button", "aria-label": t("sl.remove") }, "×");
  const tr = h(
    "tr",
    {},
    COLUMNS.map(([key]) => h("td", {}, inputs[key])),
    h("td", {}, trip(line.trip, line.last_trip)),
    h("td", {}, remove),
  );
  tr.inputs = inputs;
  remove.addEventListener("click", () => rows.removeChild(tr));
  return tr;
}

function trip(open, last) {
  const shownTrip = open || last;
  if (!shownTrip) return "–";
  const text = t(open ? "sl.crossed" : "sl.last", {
    when: when(shownTrip.at),
    kind: t(`sl.k_${shownTrip.kind}`),
    value: yuan(shownTrip.value_fen),
    limit: yuan(shownTrip.limit_fen),
  });
  return h("span", { class: open ? "error" : "hint" }, text);
}

function shown(kind, value) {
  if (value === null || value === undefined) return "";
  return kind === "yuan" ? (value / 100).toFixed(2) : String(value);
}

/** The rows as the API takes them, or what is wrong with them before anything is sent. */
function read(rows) {
  const lines = [];
  const problems = [];
  for (const tr of rows.children) {
    const line = {};
    for (const [key, kind] of COLUMNS) {
      const text = tr.inputs[key].value.trim();
      if (!text) continue;
      if (kind === "text") line[key] = text;
      else if (kind === "yuan" && /^\d+(\.\d{1,2})?$/.test(text)) {
        const [whole, cents = ""] = text.split(".");
        line[key] = Number(whole) * 100 + Number(cents.padEnd(2, "0"));
      } else if (kind === "int" && /^\d+$/.test(text)) line[key] = Number(text);
      else problems.push(t("sl.bad", { field: t(`sl.${key}`), value: text }));
    }
    lines.push(line);
  }
  return { lines, problems };
}
