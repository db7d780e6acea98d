// The outbox: messaging settings (kill switch, quiet hours, caps, locale, channel endpoints) and the
// messages automations queued, filtered by status and channel, with retry for dead ones. The `console`
// channel is where a local stack shows what would have been sent.
import { api, query } from "../api.js";
import { add, badge, busy, errorBox, field, fill, h, loading, select, table, when } from "../dom.js";
import { t } from "../i18n.js";
import { pager } from "../pager.js";

const STATUSES = ["", "pending", "sent", "deferred", "dead", "suppressed"];
const CHANNELS = ["", "console", "sms", "email", "wecom", "wechat"];
const CAPPED = ["sms", "email", "wecom", "wechat"];

export async function render(root) {
  const settingsBox = h("div", {}, loading(t("common.loading")));
  const status = select(
    STATUSES.map((s) => [s, s ? t(`msg.${s}`) : t("common.all")]),
    "",
    { id: "msg-status" },
  );
  const channel = select(
    CHANNELS.map((c) => [c, c || t("common.all")]),
    "console",
    { id: "msg-channel" },
  );
  const list = h("div", { "aria-live": "polite" });
  const listing = pager(
    list,
    (cursor) => api("GET", `/v1/admin/messages${query({ status: status.value, channel: channel.value, cursor })}`),
    draw,
  );
  const load = listing.load;
  add(
    root,
    h("h1", {}, t("outbox.title")),
    h("section", { class: "card" }, h("h2", {}, t("outbox.settings")), settingsBox),
    h(
      "section",
      { class: "card" },
      h("h2", {}, t("outbox.messages")),
      h(
        "div",
        { class: "filters" },
        h("label", { for: "msg-status" }, t("outbox.status")),
        status,
        h("label", { for: "msg-channel" }, t("outbox.channel")),
        channel,
        h("button", { type: "button", onclick: () => load(true) }, t("common.refresh")),
      ),
      list,
      listing.more,
    ),
  );
  status.addEventListener("change", () => load(true));
  channel.addEventListener("change", () => load(true));

  function draw(rows) {
    return table(
      [
        { label: t("outbox.due"), cell: (m) => when(m.sent_at || m.due_at) },
        { label: t("outbox.channel"), cell: (m) => m.channel },
        { label: t("outbox.status"), cell: (m) => badge(t(`msg.${m.status}`, {}, m.status), m.status) },
        { label: t("outbox.to"), cell: (m) => h("code", {}, m.uid) },
        {
          label: t("outbox.text"),
          cell: (m) =>
            h(
              "div",
              { class: "message-text" },
              m.subject ? h("strong", {}, m.subject) : null,
              m.subject ? h("br") : null,
              m.text || "",
            ),
        },
        { label: t("outbox.attempts"), class: "num", cell: (m) => String(m.attempts ?? 0) },
        { label: t("outbox.why"), cell: (m) => m.last_error || m.reason || "" },
        { label: t("common.actions"), cell: (m) => (m.status === "dead" ? retryButton(m) : "") },
      ],
      rows,
      t("outbox.empty"),
    );
  }

  function retryButton(m) {
    const button = h("button", { type: "button" }, t("outbox.retry"));
    button.addEventListener("click", () =>
      busy(button, async () => {
        try {
          await api("POST", `/v1/admin/messages/${encodeURIComponent(m.id)}/retry`);
          await load(true);
        } catch (error) {
          window.alert(error.message);
        }
      }),
    );
    return button;
  }

  async function settings() {
    let s;
    try {
      s = await api("GET", "/v1/admin/messaging");
    } catch (error) {
      fill(settingsBox, errorBox(error, { notAvailable: t("common.not_available") }));
      return;
    }
    const paused = h("input", { type: "checkbox", id: "kill-switch", checked: s.paused });
    const quiet = h("input", { type: "checkbox", id: "quiet-on", checked: Boolean(s.quiet_hours) });
    const start = h("input", { type: "time", value: s.quiet_hours?.start || "21:00" });
    const end = h("input", { type: "time", value: s.quiet_hours?.end || "09:00" });
    const locale = select(
      [
        ["zh", "中文"],
        ["en", "English"],
      ],
      s.locale || "zh",
    );
    const attempts = h("input", { type: "number", min: 1, max: 20, value: s.max_attempts ?? 5 });
    const caps = Object.fromEntries(
      CAPPED.map((c) => [c, h("input", { type: "number", min: 0, value: s.daily_caps?.[c] ?? "" })]),
    );
    const ch = s.channels || {};
    const endpoints = {
      sms: h("input", { type: "url", value: ch.sms?.endpoint || "", placeholder: "https://" }),
      wecom: h("input", { type: "url", value: ch.wecom?.endpoint || "", placeholder: "https://" }),
      wechat: h("input", { type: "url", value: ch.wechat?.endpoint || "", placeholder: "https://" }),
      email: h("input", { type: "email", value: ch.email?.sender || "" }),
    };
    const message = h("p", { role: "status" });
    const save = h("button", { type: "submit", class: "primary" }, t("common.save"));
    const form = h(
      "form",
      { class: "stack" },
      h(
        "p",
        { class: `kill ${s.paused ? "on" : ""}` },
        paused,
        " ",
        h("label", { for: "kill-switch" }, t("outbox.kill")),
        h("span", { class: "hint" }, ` ${t("outbox.kill_hint")}`),
      ),
      h("p", {}, quiet, " ", h("label", { for: "quiet-on" }, t("outbox.quiet"))),
      h("div", { class: "grid2" }, field(t("outbox.quiet_start"), start), field(t("outbox.quiet_end"), end)),
      h("div", { class: "grid2" }, field(t("outbox.locale"), locale), field(t("outbox.max_attempts"), attempts)),
      h(
        "fieldset",
        {},
        h("legend", {}, t("outbox.caps")),
        h(
          "div",
          { class: "grid4" },
          CAPPED.map((c) => field(c, caps[c])),
        ),
      ),
      h(
        "fieldset",
        {},
        h("legend", {}, t("outbox.channels")),
        h(
          "div",
          { class: "grid2" },
          field(t("outbox.sms_endpoint"), endpoints.sms),
          field(t("outbox.wecom_endpoint"), endpoints.wecom),
          field(t("outbox.wechat_endpoint"), endpoints.wechat),
          field(t("outbox.email_sender"), endpoints.email),
        ),
      ),
      save,
      message,
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const channels = {
        sms: endpoints.sms.value ? { endpoint: endpoints.sms.value } : null,
        wecom: endpoints.wecom.value ? { endpoint: endpoints.wecom.value } : null,
        wechat: endpoints.wechat.value ? { endpoint: endpoints.wechat.value } : null,
        email: endpoints.email.value ? { sender: endpoints.email.value } : null,
      };
      const body = {
        paused: paused.checked,
        quiet_hours: quiet.checked ? { start: start.value, end: end.value } : null,
        daily_caps: Object.fromEntries(
          CAPPED.filter((c) => caps[c].value !== "").map((c) => [c, Number(caps[c].value)]),
        ),
        max_attempts: Number(attempts.value || 5),
        locale: locale.value,
        channels,
      };
      busy(save, async () => {
        try {
          await api("PUT", "/v1/admin/messaging", body);
          message.textContent = t("common.saved");
          form.querySelector(".kill").classList.toggle("on", paused.checked);
        } catch (error) {
          message.textContent = `${error.message} (${error.code})`;
        }
      });
    });
    fill(settingsBox, form);
  }

  await Promise.all([settings(), load(true)]);
}
