// Daily check-in (每日签到): the month's calendar, the streaks, today's check-in and make-up cards (补签) for missed
// days of this month (GET/POST /v1/campaigns/{cid}/me/checkins, POST .../me/checkins/makeup, docs/retention.md).
import { t } from "../i18n.js";
import { h } from "./dom.js";

let month = null; // the month shown, YYYY-MM; null for the current local month
let busy = false;
let again = null; // the follow-up read after an action
// Tasks and the tier follow a check-in from the stream, seconds later: read everything once more then.
const FOLLOW_UP_MS = 4000;

const base = (ctx) => `/v1/campaigns/${encodeURIComponent(ctx.cid)}/me/checkins`;

// Calendar arithmetic on YYYY-MM-DD strings: the dates are the tenant's local days, never the browser's.
function shift(ym, by) {
  const [y, m] = ym.split("-").map(Number);
  const d = new Date(Date.UTC(y, m - 1 + by, 1));
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, "0")}`;
}

function monthLabel(ym) {
  const [y, m] = ym.split("-").map(Number);
  return t("centre_checkin_month", { year: y, month: m });
}

function reward(step) {
  const parts = [];
  if (step.points) parts.push(t("centre_checkin_points", { n: step.points }));
  if (step.coupon) parts.push(step.coupon.name);
  return parts.join(" + ") || t("centre_checkin_nothing");
}

// The API's refusals, in the participant's words (the code stays in brackets for support).
function refusal(ctx, error) {
  if (error.code === "MAKEUP_LIMIT") return t("centre_makeup_limit", { n: error.details?.per_month ?? 0 });
  if (error.code === "MAKEUP_DATE_NOT_ALLOWED") {
    const reason = error.details?.reason;
    const key = `centre_makeup_${reason}`;
    return t(key) === key ? ctx.errorText(error) : t(key);
  }
  if (error.code === "CHECKIN_BUSY") return t("centre_checkin_busy");
  return ctx.errorText(error);
}

async function act(ctx, button, request, done) {
  if (busy) return;
  busy = true;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  ctx.say("checkins", "");
  try {
    const answer = await request();
    await ctx.reload(); // the points balance moves with a check-in at once
    ctx.say("checkins", done(answer));
    clearTimeout(again);
    again = setTimeout(ctx.reload, FOLLOW_UP_MS);
  } catch (error) {
    if (error.code === "CHECKINS_DISABLED") {
      await ctx.reload(); // switched off meanwhile: the calendar reads enabled=false and the section goes
    } else {
      ctx.say("checkins", refusal(ctx, error), "error");
      button.disabled = false;
    }
  } finally {
    button.removeAttribute("aria-busy");
    busy = false;
  }
}

function checkIn(ctx, button, already) {
  return act(ctx, button, () => ctx.call("POST", base(ctx)), (day) =>
    already
      ? t("centre_checkin_again")
      : t("centre_checked_in", { day: day.streak_day ?? 1, reward: reward(day) }));
}

function makeUp(ctx, button, date) {
  return act(ctx, button, () => ctx.call("POST", `${base(ctx)}/makeup`, { body: { date } }), (day) =>
    t("centre_made_up", { date: day.date, n: day.makeup_cards_left }));
}

function navigate(ctx, ym) {
  month = ym;
  ctx.say("checkins", "");
  return ctx.reload();
}

function grid(ctx, c) {
  const covered = new Map(c.days.map((d) => [d.date, d]));
  const [y, m] = c.month.split("-").map(Number);
  const length = new Date(Date.UTC(y, m, 0)).getUTCDate();
  const lead = (new Date(Date.UTC(y, m - 1, 1)).getUTCDay() + 6) % 7; // Monday first
  // Make-up cards cover missed days of the current month only; the API says why any other day is refused.
  const mendable = c.month === c.today.slice(0, 7) && c.makeup_cards_per_month > 0;
  const cells = [];
  for (let i = 0; i < lead; i++) cells.push(h("li", { class: "pad", "aria-hidden": "true" }));
  for (let n = 1; n <= length; n++) {
    const date = `${c.month}-${String(n).padStart(2, "0")}`;
    const day = covered.get(date);
    let state = date > c.today ? "future" : date === c.today ? "today" : "missed";
    if (day) state = day.made_up ? "made-up" : "checked";
    const label = t(`centre_day_${state.replace("-", "_")}`, { date });
    const cell = state === "missed" && mendable
      ? h("button", { type: "button", class: "day", title: t("centre_makeup_hint"), "aria-label": label, onclick: (e) => makeUp(ctx, e.currentTarget, date) }, String(n))
      : h("span", { class: "day", title: label, "aria-label": label }, String(n));
    cells.push(h("li", { "data-date": date, "data-state": state }, cell));
  }
  const head = t("centre_weekdays").split(",").map((d) => h("li", { class: "wd", "aria-hidden": "true" }, d));
  return h("ol", { class: "calendar", id: "checkin-calendar" }, ...head, ...cells);
}

export default {
  id: "checkins",
  async load(ctx) {
    const c = await ctx.get(`${base(ctx)}${month ? `?month=${month}` : ""}`);
    return c.enabled ? c : null;
  },
  render(ctx, c) {
    const stat = (key, n, id) => h("div", {}, h("dt", {}, t(key)), h("dd", { id }, String(n)));
    const current = c.today.slice(0, 7);
    const nodes = [
      h("h2", {}, t("centre_checkin_title")),
      h("dl", { class: "stats" },
        stat("centre_streak", c.current_streak, "checkin-streak"),
        stat("centre_longest", c.longest_streak, "checkin-longest"),
        stat("centre_cards_left", `${c.makeup_cards_left}/${c.makeup_cards_per_month}`, "checkin-cards")),
    ];
    const next = c.next_reward;
    if (next) {
      const key = c.checked_in_today ? "centre_next_tomorrow" : "centre_next_today";
      nodes.push(h("p", { class: "muted", id: "checkin-next" }, t(key, { day: next.streak_day, reward: reward(next) })));
    }
    nodes.push(h("button", {
      type: "button",
      class: "wide",
      id: "checkin-button",
      disabled: c.checked_in_today,
      onclick: (e) => checkIn(ctx, e.currentTarget, c.checked_in_today),
    }, c.checked_in_today ? t("centre_checked_in_today") : t("centre_check_in")));
    nodes.push(h("div", { class: "month-nav" },
      h("button", { type: "button", class: "secondary", id: "checkin-prev", "aria-label": t("centre_month_prev"), onclick: () => navigate(ctx, shift(c.month, -1)) }, "‹"),
      h("strong", { id: "checkin-month" }, monthLabel(c.month)),
      h("button", { type: "button", class: "secondary", id: "checkin-next-month", "aria-label": t("centre_month_next"), disabled: c.month >= current, onclick: () => navigate(ctx, shift(c.month, 1)) }, "›")));
    nodes.push(grid(ctx, c));
    if (c.month === current && c.makeup_cards_per_month) nodes.push(h("p", { class: "muted" }, t("centre_makeup_hint")));
    if (c.ladder.length) {
      nodes.push(h("h3", {}, t("centre_ladder_title", { n: c.cycle_days })),
        h("ul", { class: "plain", id: "checkin-ladder" }, c.ladder.map((step) =>
          h("li", { "data-day": step.day, class: next && next.cycle_day === step.day ? "next" : null },
            h("span", {}, t("centre_ladder_day", { n: step.day })), h("span", { class: "points" }, reward(step))))));
    }
    return nodes;
  },
};
