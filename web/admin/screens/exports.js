// CSV exports: pick a campaign and kind, pass the TOTP step-up (or enrol an authenticator first),
// follow the job with a progress indicator, then download the file with the operator's token and,
// past 15 minutes of a TOTP sign-in, a fresh code (asked for by stepup.js).
import { ApiError, api } from "../api.js";
import { add, busy, clear, field, fill, h, select, when } from "../dom.js";
import { t } from "../i18n.js";

const KINDS = ["participants", "referrals", "rewards", "ledger"];
const POLL_MS = 1000;

export async function render(root, _params, ctx) {
  const campaigns = (await api("GET", "/v1/admin/campaigns?limit=50")).items;
  const campaign = select(
    campaigns.map((c) => [c.campaign_id, `${c.title} (${t(`status.${c.status}`)})`]),
    campaigns[0]?.campaign_id,
    { name: "campaign" },
  );
  const kind = select(
    KINDS.map((k) => [k, t(`export.${k}`)]),
    "participants",
    { name: "kind" },
  );
  const code = h("input", {
    type: "text",
    inputmode: "numeric",
    autocomplete: "one-time-code",
    pattern: "[0-9]{6}",
    maxlength: "6",
    name: "totp",
  });
  const codeField = field(t("export.totp"), code, t("export.totp_hint"));
  const start = h("button", { type: "submit", class: "primary" }, t("export.start"));
  const message = h("div", { class: "form-message", role: "alert" });
  const jobs = h("div", { "aria-live": "polite" });
  const enrolBox = h("div", {});
  let timer = null;

  const form = h(
    "form",
    { class: "card stack", novalidate: true },
    h("h2", {}, t("export.new")),
    h("p", { class: "hint" }, t("export.intro")),
    h("div", { class: "grid2" }, field(t("export.campaign"), campaign), field(t("export.kind"), kind)),
    codeField,
    start,
    message,
  );
  add(
    root,
    h("h1", {}, t("export.title")),
    campaigns.length ? form : h("p", { class: "empty" }, t("export.no_campaigns")),
    enrolBox,
    jobs,
  );

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(start, async () => {
      clear(message);
      clear(enrolBox);
      const headers = { "Idempotency-Key": crypto.randomUUID() };
      if (code.value.trim()) headers["X-Fission-TOTP"] = code.value.trim();
      try {
        const job = await api(
          "POST",
          "/v1/admin/exports",
          { campaign_id: campaign.value, kind: kind.value },
          { headers },
        );
        code.value = "";
        ctx.announce(t("export.queued"));
        follow(job);
      } catch (error) {
        add(message, h("p", {}, `${error.message} (${error.code})`));
        if (error instanceof ApiError && error.code === "STEP_UP_REQUIRED") {
          if (error.details.reason === "not_enrolled") add(enrolBox, enrolment());
          else {
            add(message, h("p", {}, t("export.enter_code")));
            code.focus();
          }
        }
      }
    });
  });

  function follow(job) {
    const progress = h("progress", { max: 100, "aria-label": t("export.progress") });
    const state = h("p", { role: "status" }, t(`export.s_${job.status}`));
    const link = h("div", {});
    const card = h(
      "section",
      { class: "card job" },
      h("h3", {}, `${t(`export.${job.kind}`)} · ${job.id}`),
      progress,
      state,
      link,
    );
    jobs.prepend(card);
    const poll = async () => {
      try {
        const current = await api("GET", `/v1/admin/exports/${encodeURIComponent(job.id)}`);
        state.textContent = `${t(`export.s_${current.status}`)}${current.rows ? ` · ${t("export.rows", { n: current.rows })}` : ""}`;
        if (current.status === "done") {
          progress.value = 100;
          fill(link, downloadButton(current));
          ctx.announce(t("export.ready"));
          return;
        }
        if (current.status === "failed") {
          progress.remove();
          state.textContent = `${t("export.s_failed")}: ${current.error || ""}`;
          return;
        }
        timer = setTimeout(poll, POLL_MS);
      } catch (error) {
        state.textContent = `${error.message} (${error.code})`;
      }
    };
    poll();
  }

  function downloadButton(job) {
    // Always the API's download route, whatever the job's download_url: it wants a fresh TOTP step-up
    // (api.js asks for the code) and audits each download. Where the API keeps the file it answers the CSV,
    // saved from a blob; where S3 does, a one-minute presigned link as JSON, opened as a plain link (the
    // bearer token must not follow a redirect to S3).
    const button = h("button", { type: "button", class: "primary" }, t("export.download"));
    const note = h("p", { class: "form-message", role: "alert" });
    button.addEventListener("click", () =>
      busy(button, async () => {
        note.textContent = "";
        try {
          const response = await api("GET", `/v1/admin/exports/${encodeURIComponent(job.id)}/download`, undefined, {
            raw: true,
            headers: { Accept: "application/json, text/csv" },
          });
          const linked = (response.headers.get("Content-Type") || "").includes("application/json");
          const href = linked ? (await response.json()).url : URL.createObjectURL(await response.blob());
          const a = h("a", { href, rel: "noopener", download: `${job.kind}-${job.campaign_id}.csv` });
          document.body.append(a);
          a.click();
          a.remove();
          if (!linked) setTimeout(() => URL.revokeObjectURL(href), 10_000);
          ctx.announce(t("export.downloaded"));
        } catch (error) {
          note.textContent = `${error.message} (${error.code})`;
        }
      }),
    );
    return h(
      "div",
      {},
      h("p", {}, button, " ", h("span", { class: "hint" }, t("export.expires", { when: when(job.expires_at) }))),
      note,
    );
  }

  function enrolment() {
    const box = h("section", { class: "card stack" }, h("h2", {}, t("totp.title")), h("p", {}, t("totp.intro")));
    const begin = h("button", { type: "button", class: "primary" }, t("totp.begin"));
    const out = h("div", { "aria-live": "polite" });
    add(box, begin, out);
    begin.addEventListener("click", () =>
      busy(begin, async () => {
        try {
          const secret = await api("POST", "/v1/admin/operators/me/totp");
          const confirmCode = h("input", {
            type: "text",
            inputmode: "numeric",
            maxlength: "6",
            pattern: "[0-9]{6}",
            autocomplete: "one-time-code",
          });
          const confirm = h("button", { type: "submit", class: "primary" }, t("totp.confirm"));
          const note = h("p", { role: "status" });
          const confirmForm = h("form", { class: "stack" }, field(t("export.totp"), confirmCode), confirm, note);
          confirmForm.addEventListener("submit", (event) => {
            event.preventDefault();
            busy(confirm, async () => {
              try {
                await api("POST", "/v1/admin/operators/me/totp/confirm", { code: confirmCode.value.trim() });
                note.textContent = t("totp.active");
                code.focus();
              } catch (error) {
                note.textContent = `${error.message} (${error.code})`;
              }
            });
          });
          // The API draws the QR code (an SVG of our own modules, no text from anyone): shown as an image,
          // so nothing in it runs; the secret and the URI stay beside it for typing in by hand.
          const qr = secret.qr_svg
            ? h("img", {
                class: "totp-qr",
                src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(secret.qr_svg)}`,
                alt: t("totp.qr"),
                width: "220",
                height: "220",
              })
            : null;
          fill(
            out,
            ...(qr ? [h("p", {}, t("totp.scan")), qr] : []),
            h("p", {}, t("totp.secret"), " ", h("code", { class: "secret" }, secret.secret)),
            h("p", {}, t("totp.uri"), " ", h("code", { class: "secret" }, secret.otpauth_uri)),
            confirmForm,
          );
          confirmCode.focus();
        } catch (error) {
          fill(out, h("p", {}, `${error.message} (${error.code})`));
        }
      }),
    );
    return box;
  }

  return () => clearTimeout(timer);
}
