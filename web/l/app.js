// The participant landing page: /l/?campaign=CID&ref=CODE&ch=CHANNEL&click=TOKEN[&group=GID][&lang=en][#assertion=JWT].
// Reads the campaign's public view, renders it by mode, joins the way the campaign's identity mode asks
// (docs/identity.md), then keeps the participant's progress fresh.
// Only the public API is used (docs/openapi.yaml, tag Public); see docs/web.md.
import { apiUrl, beacon, browserIdentity, call, campaignStore, randomId } from "./api.js";
import { currentLang, setLang, t } from "./i18n.js";

const params = new URLSearchParams(location.search);
const cid = params.get("campaign");
const CODE = /^[0-9a-z]{1,16}$/;
const ref = CODE.test(params.get("ref") || "") ? params.get("ref") : null;
const channel = /^[a-z0-9_]{1,32}$/.test(params.get("ch") || "") ? params.get("ch") : null;
const REFRESH_MS = 3000;
// Signed and platform campaigns: the merchant's site sends its logged-in user here with a short-lived
// assertion. It lives in memory for this page view only, out of the address bar before anything loads, so it
// never reaches the history, a bookmark, a shared link or a Referer.
const assertion = takeAssertion();
// Inside WeChat's browser: a WeChat-login campaign logs the visitor in there, and shares go through the JS-SDK.
const inWeChat = /MicroMessenger/i.test(navigator.userAgent);
// The JS-SDK script; a deployment may name a copy of its own in config.js (`wechatJsSdk`).
const WECHAT_JSSDK = window.FISSION_CONFIG?.wechatJsSdk || "https://res.wx.qq.com/open/js/jweixin-1.6.0.js";
const LOGIN_RETRY_MS = 60_000;

const state = {
  campaign: null,
  participant: null, // the join answer (with its token), kept in localStorage
  me: null,
  gid: params.get("group"),
  group: null,
  friendAssist: null,
  myAssist: null,
  leaderboard: null,
  claimForm: null, // the reward id whose address form is open (not re-rendered under the visitor's fingers)
  helped: false,
};
const store = cid ? campaignStore(cid) : null;

// ---- small DOM helpers (text only: nothing from the API is ever parsed as HTML) ----

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (name === "value") el.value = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

function slot(name) {
  return document.getElementById(`s-${name}`);
}

function mount(name, ...nodes) {
  const section = slot(name);
  const kept = nodes.filter(Boolean);
  section.querySelector(".body").replaceChildren(...kept);
  section.hidden = kept.length === 0;
}

function say(name, text, kind = "ok") {
  const msg = slot(name).querySelector(".msg");
  msg.className = `msg ${kind}`;
  msg.textContent = text;
}

function notice(text) {
  document.getElementById("notice").textContent = text || "";
}

function errorText(error) {
  // The merchant's assertion was refused (expired after its 15 minutes, another user's, ...): only the
  // merchant's page can give a new one.
  if (/^(ASSERTION_\w+|IDENTITY_REQUIRED|PROOF_MISMATCH)$/.test(error?.code || "")) return t("assertion_refused", { code: error.code });
  return error?.code && error.code !== "NETWORK_ERROR" ? `${error.message} (${error.code})` : String(error?.message || error);
}

// Runs an action with its button busy; the API's error message lands in the section's live region.
async function act(button, busyText, section, action) {
  const label = button.textContent;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  button.textContent = busyText;
  say(section, "");
  try {
    await action();
  } catch (error) {
    say(section, errorText(error), "error");
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    button.textContent = label;
  }
}

// ---- identity (docs/identity.md) ----

// Read from the fragment (`#assertion=`, which browsers never send to a server, so it stays out of the
// static host's access logs) or, for older links, the query; then removed from the address bar either way.
function takeAssertion() {
  const url = new URL(location.href);
  const fragment = new URLSearchParams(url.hash.slice(1));
  const value = fragment.get("assertion") ?? url.searchParams.get("assertion");
  if (value === null) return null;
  url.searchParams.delete("assertion");
  fragment.delete("assertion");
  url.hash = fragment.toString();
  history.replaceState(history.state, "", url);
  return /^[\w-]+\.[\w-]+\.[\w-]+$/.test(value) ? value : null;
}

// The user id the assertion names (`sub`), read without verifying it (the API does): only to tell whether the
// participant this browser kept is the person now signed in at the merchant.
function assertionSubject(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const sub = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(part), (c) => c.charCodeAt(0)))).sub;
    return typeof sub === "string" ? sub : null;
  } catch {
    return null;
  }
}

// anonymous: Fission mints the identity, the participant token leads back. signed and platform: the visitor
// proves who they are with the assertion the merchant's page sent along. Older APIs say nothing: anonymous.
function needsAssertion() {
  return (state.campaign?.identity?.mode || "anonymous") !== "anonymous";
}

// The fresh proof a delivery address needs besides the token: a one-time code fetched right now (anonymous),
// or the assertion this page view arrived with.
async function freshProof() {
  if (!needsAssertion()) {
    const { proof } = await call("POST", `/v1/campaigns/${encodeURIComponent(cid)}/me/proof`, { token: state.participant.token });
    return { "X-Fission-Proof": proof };
  }
  return assertion ? { "X-Fission-Assertion": assertion } : {};
}

// ---- WeChat (docs/wechat.md, "Web login, JS-SDK and the mini program") ----

function usesWeChatLogin() {
  const identity = state.campaign?.identity || {};
  return identity.mode === "platform" && identity.platform === "wechat";
}

// Inside WeChat, a WeChat-login campaign sends a visitor who has neither an assertion nor a participant to
// WeChat's login first; it comes back here with `#assertion=`. Once a minute at most, so a declined or failed
// login shows the page instead of looping.
function loginThroughWeChat() {
  if (!inWeChat || !usesWeChatLogin() || !state.campaign.identity.login_path || assertion || state.participant?.token) return false;
  const key = `fission:${cid}:wechat-login`;
  let last = 0;
  try {
    last = Number(sessionStorage.getItem(key) || 0);
    if (Date.now() - last < LOGIN_RETRY_MS) return false;
    sessionStorage.setItem(key, String(Date.now()));
  } catch {
    return false; // without storage the loop guard cannot work: stay on the page
  }
  const query = new URLSearchParams({ return: location.href.split("#")[0] });
  location.replace(apiUrl(`${state.campaign.identity.login_path}&${query}`));
  return true;
}

let wechatShared = null; // the invite link the JS-SDK was set up with

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = h("script", { src, async: true });
    script.onload = resolve;
    script.onerror = reject;
    document.head.append(script);
  });
}

// Sets what WeChat's own share menu sends (the participant's invite link and the campaign's copy). Whether the
// visitor then shares is WeChat's to know: nothing is reported or counted from here.
async function shareThroughWeChat() {
  const p = state.participant;
  const configPath = state.campaign?.identity?.jssdk_config_path;
  if (!inWeChat || !p?.invite_url || !configPath) return;
  const link = shareLinkFor(p.invite_url, "wechat");
  if (wechatShared === link) return;
  wechatShared = link;
  try {
    const page = location.href.split("#")[0];
    const path = `${configPath}?${new URLSearchParams({ url: page })}`;
    const [config] = await Promise.all([call("GET", path), window.wx ? null : loadScript(WECHAT_JSSDK)]);
    const share = p.share || state.campaign.share || {};
    const title = share.title || state.campaign.title;
    window.wx.config({ debug: false, ...config, jsApiList: ["updateAppMessageShareData", "updateTimelineShareData"] });
    window.wx.ready(() => {
      window.wx.updateAppMessageShareData({ title, desc: share.text || "", link, imgUrl: share.image_url || "" });
      window.wx.updateTimelineShareData({ title, link, imgUrl: share.image_url || "" });
    });
  } catch {
    wechatShared = null; // no JS-SDK (not connected, offline): WeChat shares the page as it is
  }
}

// ---- formatting ----

const yuan = (fen) => `¥${(Number(fen || 0) / 100).toFixed(2)}`;

function when(iso) {
  const options = { dateStyle: "medium", timeStyle: "short" };
  const locale = currentLang() === "en" ? "en-GB" : "zh-CN";
  try {
    return new Date(iso).toLocaleString(locale, { ...options, timeZone: state.campaign?.timezone || undefined });
  } catch {
    return new Date(iso).toLocaleString(locale, options);
  }
}

function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const pad = (n) => String(n).padStart(2, "0");
  const parts = { d: Math.floor(s / 86400), h: pad(Math.floor((s % 86400) / 3600)), m: pad(Math.floor((s % 3600) / 60)), s: pad(s % 60) };
  return parts.d > 0 ? t("time_left_days", parts) : t("time_left", parts);
}

function rewardName(reward) {
  if (!reward) return "";
  if (reward.value_fen) return `${reward.name} (${yuan(reward.value_fen)})`;
  return reward.name;
}

// Elements with data-deadline tick every second without waiting for the next refresh.
function countdown(iso, key) {
  return h("span", { "data-deadline": iso, "data-format": key }, t(key, { time: duration((Date.parse(iso) - Date.now()) / 1000) }));
}

function tick() {
  for (const el of document.querySelectorAll("[data-deadline]")) {
    el.textContent = t(el.dataset.format, { time: duration((Date.parse(el.dataset.deadline) - Date.now()) / 1000) });
  }
}

// ---- sharing ----

function shareLinkFor(url, via) {
  const target = new URL(url, location.href);
  if (target.pathname.startsWith("/v1/i/")) target.searchParams.set("ch", via);
  return target.toString();
}

async function copyText(input) {
  const text = input.value;
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // fall through to the selection copy (permission refused, no user activation)
    }
  }
  input.select();
  try {
    return document.execCommand("copy");
  } catch {
    return false;
  }
}

function shareBox(section, label, url, inputId) {
  const copyUrl = shareLinkFor(url, "link");
  const input = h("input", { id: inputId, type: "url", readonly: true, value: copyUrl, onfocus: (e) => e.target.select() });
  const copy = h("button", {
    type: "button",
    id: `${inputId}-copy`,
    onclick: async () => {
      const ok = await copyText(input);
      say(section, ok ? t("copied") : t("copy_failed"), ok ? "ok" : "error");
      if (ok) beacon(cid, "share", "link", state.participant?.token);
    },
  }, t("copy"));
  const buttons = [copy];
  if (typeof navigator.share === "function") {
    buttons.push(h("button", {
      type: "button",
      class: "secondary",
      onclick: async () => {
        const share = state.participant?.share || state.campaign.share || {};
        try {
          await navigator.share({ title: share.title || state.campaign.title, text: share.text || "", url: shareLinkFor(url, "web_share") });
          beacon(cid, "share", "web_share", state.participant?.token);
          say(section, t("shared"));
        } catch (error) {
          if (error && error.name !== "AbortError") say(section, String(error.message || error), "error");
        }
      },
    }, t("share")));
  }
  return [h("label", { for: inputId }, label), input, h("div", { class: "row" }, buttons)];
}

// ---- sections ----

function renderOffer() {
  const c = state.campaign;
  const rules = c.rules || {};
  const nodes = [
    h("p", {}, h("span", { class: "badge" }, t(`mode_${c.mode}`)), " ", h("span", { class: "muted" }, t("ends_at", { time: when(c.ends_at) }))),
  ];
  if (c.description) nodes.push(h("p", {}, c.description));
  if (ref && ref !== state.participant?.invite_code && c.mode !== "assist") nodes.push(h("p", { class: "muted" }, t("invited_by_friend", { code: ref })));
  if (c.mode === "invite" || c.mode === "poster") {
    nodes.push(h("h2", {}, t("ladder_title")));
    nodes.push(h("ul", { class: "plain", id: "ladder" }, (rules.milestones || []).map((m) => h("li", {}, t("ladder_step", { n: m.invites, reward: rewardName(m.reward) })))));
    if (rules.invitee_reward) nodes.push(h("p", { class: "muted" }, t("invitee_reward", { reward: rewardName(rules.invitee_reward) })));
  } else if (c.mode === "group_buy") {
    nodes.push(h("p", {}, t("group_offer", { product: rules.product?.name || "", original: yuan(rules.original_price_fen) })));
    nodes.push(h("ul", { class: "plain" }, (rules.tiers || []).map((tier) => h("li", {}, t("group_tier", { size: tier.size, price: yuan(tier.price_fen) })))));
    if (rules.deadline_hours) nodes.push(h("p", { class: "muted" }, t("group_deadline", { hours: rules.deadline_hours })));
    if (c.auto_fill_disclosure) nodes.push(h("p", { class: "muted" }, c.auto_fill_disclosure));
  } else if (c.mode === "assist") {
    if (rules.goal === "unlock") nodes.push(h("p", {}, t("assist_unlock_offer", { n: rules.helpers_required, prize: rewardName(rules.prize) })));
    else {
      nodes.push(h("p", {}, t("assist_offer", { product: rules.product?.name || "", original: yuan(rules.original_price_fen), floor: yuan(rules.floor_price_fen) })));
      nodes.push(h("p", { class: "muted" }, t("assist_helpers_needed", { n: rules.helpers_required })));
    }
  } else if (c.mode === "distribution") {
    const rates = (rules.rates_bp || []).map((bp, i) => t("dist_level", { level: i + 1, rate: `${bp / 100}%` })).join(currentLang() === "en" ? ", " : "、");
    nodes.push(h("p", {}, t("dist_rates", { rates })));
    if (rules.frozen_days) nodes.push(h("p", { class: "muted" }, t("dist_frozen", { days: rules.frozen_days })));
  }
  mount("offer", ...nodes);
}

function renderRules() {
  const text = state.campaign.rule_text;
  mount("rules", text ? h("h2", {}, t("rule_title")) : null, text ? h("p", { class: "rule-text" }, text) : null);
}

function renderPhase() {
  const c = state.campaign;
  if (c.phase === "upcoming") notice(t("phase_upcoming", { time: when(c.starts_at) }));
  else if (c.phase === "paused") notice(t("phase_paused"));
  else if (c.phase === "ended") notice(t("phase_ended"));
  else notice(state.participant?.review === "pending" ? t("review_pending") : "");
}

function renderJoin() {
  if (state.participant) {
    mount("join");
    return;
  }
  if (needsAssertion() && !assertion) {
    // Only the merchant's site can say who the visitor is: a join from here would be refused.
    mount("join", h("h2", {}, t("join_title")), h("p", { id: "join-elsewhere" }, t("join_via_merchant")));
    return;
  }
  const live = state.campaign.phase === "live";
  const old = document.getElementById("join-form");
  const kept = old ? { nickname: old.nickname.value, phone: old.phone.value } : { nickname: "", phone: "" };
  const form = h("form", { id: "join-form", novalidate: true, onsubmit: onJoin },
    h("h2", {}, t("join_title")),
    h("label", { for: "nickname" }, t("nickname")),
    h("span", { class: "hint", id: "nickname-hint" }, t("nickname_hint")),
    h("input", { id: "nickname", name: "nickname", maxlength: 32, autocomplete: "nickname", "aria-describedby": "nickname-hint", value: kept.nickname }),
    h("label", { for: "phone" }, t("phone")),
    h("span", { class: "hint", id: "phone-hint" }, t("phone_hint")),
    h("input", { id: "phone", name: "phone", type: "tel", maxlength: 24, autocomplete: "tel", inputmode: "tel", "aria-describedby": "phone-hint", value: kept.phone }),
    h("button", { type: "submit", id: "join-submit", class: "wide", disabled: !live }, t("join_button")),
  );
  mount("join", form);
}

async function onJoin(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const body = { device_id: browserIdentity().device_id };
  if (needsAssertion()) body.assertion = assertion;
  const nickname = form.nickname.value.trim();
  const phone = form.phone.value.trim();
  if (nickname) body.nickname = nickname;
  if (phone) body.phone = phone;
  if (channel) body.channel = channel;
  if (ref) body.ref = ref;
  const clicks = store.clicks();
  if (clicks.length) body.clicks = clicks;
  await act(form.querySelector("button[type=submit]"), t("joining"), "join", async () => {
    const joined = await sendJoin(body);
    const subject = needsAssertion() ? assertionSubject(assertion) : null;
    state.participant = subject ? { ...joined, subject } : joined;
    store.setParticipant(state.participant);
    renderAll();
    say("link", t("joined"));
    await refresh();
    document.getElementById("invite-link")?.focus();
  });
}

// Anonymous: a token this browser kept (another tab may have joined since this one loaded) brings that
// participant back instead of minting a second one; a stale token is dropped and the join sent without it.
async function sendJoin(body) {
  const path = `/v1/campaigns/${encodeURIComponent(cid)}/participants`;
  const token = needsAssertion() ? null : store.participant()?.token;
  if (token) {
    try {
      return await call("POST", path, { body, token });
    } catch (error) {
      // Expired or revoked (401), erased (410) or gone: this browser joins afresh.
      if (error.status !== 401 && error.status !== 410 && error.code !== "PARTICIPANT_NOT_FOUND") throw error;
      store.forgetParticipant();
    }
  }
  return call("POST", path, { body });
}

function renderLink() {
  const p = state.participant;
  if (!p) return mount("link");
  const label = state.campaign.mode === "assist" ? t("share_assist") : t("your_link");
  // The participant centre (points, the rewards shop) reads the token this page kept.
  const centre = h("a", { class: "button secondary", id: "centre-link", href: `centre.html?${new URLSearchParams({ campaign: cid })}` }, t("centre_open"));
  mount("link", h("h2", {}, t("invite_title")), ...shareBox("link", label, p.invite_url, "invite-link"), h("div", { class: "row" }, centre));
  shareThroughWeChat();
}

function renderPoster() {
  const p = state.participant;
  if (!p || !["invite", "poster", "distribution"].includes(state.campaign.mode)) return mount("poster");
  const img = h("img", { id: "poster-img", src: p.poster_url, alt: t("poster_alt"), width: 750, height: 1334, loading: state.campaign.mode === "poster" ? "eager" : "lazy" });
  const download = h("a", { class: "button secondary", href: p.poster_url, download: `poster-${p.invite_code}.jpg`, id: "poster-download" }, t("poster_download"));
  mount("poster", h("div", { class: "poster" }, h("h2", {}, t("poster_title")), img, download));
}

function renderProgress() {
  const me = state.me;
  if (!me || !["invite", "poster"].includes(state.campaign.mode)) return mount("progress");
  const progress = me.progress || {};
  const counted = progress.counted_invites || 0;
  const next = progress.next_milestone;
  const nodes = [h("h2", {}, t("progress_title")), h("p", { class: "big", id: "progress-count" }, t("counted_invites", { n: counted }))];
  if (next) {
    nodes.push(h("progress", { value: counted, max: next.invites, "aria-labelledby": "progress-count" }));
    nodes.push(h("p", { id: "next-milestone" }, t("next_milestone", { n: next.remaining, reward: rewardName(next.reward) })));
  } else {
    nodes.push(h("p", { id: "next-milestone" }, t("all_milestones")));
  }
  if (progress.pending_review_invites) nodes.push(h("p", { class: "muted" }, t("pending_invites", { n: progress.pending_review_invites })));
  nodes.push(h("p", { class: "muted", id: "rank" }, me.rank ? t("rank", { n: me.rank }) : t("unranked")));
  mount("progress", ...nodes);
}

function renderCommission() {
  const commission = state.me?.commission;
  if (!commission) return mount("commission");
  const stat = (key, fen) => [h("dt", {}, t(key)), h("dd", { id: key.replace("_", "-") }, yuan(fen))];
  mount("commission", h("h2", {}, t("commission_title")),
    h("dl", { class: "stats" },
      h("div", {}, stat("commission_pending", commission.pending_fen)),
      h("div", {}, stat("commission_available", commission.available_fen)),
      h("div", {}, stat("commission_clawed_back", commission.clawed_back_fen))));
}

function addressForm(reward) {
  const field = (name, key, extra = {}) => [
    h("label", { for: `addr-${name}` }, t(key)),
    h("input", { id: `addr-${name}`, name, ...extra }),
  ];
  return h("form", {
    class: "reward-form",
    onsubmit: async (event) => {
      event.preventDefault();
      const form = event.currentTarget;
      const address = {};
      for (const name of ["name", "phone", "province", "city", "district", "line", "postcode"]) {
        const value = form[name].value.trim();
        if (value) address[name] = value;
      }
      await claim(form.querySelector("button[type=submit]"), reward, { address });
    },
  },
  h("h3", {}, t("address_title")),
  field("name", "addr_name", { required: true, maxlength: 40, autocomplete: "name" }),
  field("phone", "addr_phone", { required: true, type: "tel", maxlength: 24, autocomplete: "tel" }),
  field("province", "addr_province", { required: true, maxlength: 40, autocomplete: "address-level1" }),
  field("city", "addr_city", { required: true, maxlength: 40, autocomplete: "address-level2" }),
  field("district", "addr_district", { maxlength: 40, autocomplete: "address-level3" }),
  field("line", "addr_line", { required: true, maxlength: 200, autocomplete: "street-address" }),
  field("postcode", "addr_postcode", { maxlength: 12, autocomplete: "postal-code" }),
  h("div", { class: "row" },
    h("button", { type: "submit" }, t("addr_submit")),
    h("button", { type: "button", class: "secondary", onclick: () => { state.claimForm = null; renderRewards(true); } }, t("cancel"))));
}

async function claim(button, reward, body) {
  await act(button, t("claiming"), "rewards", async () => {
    const headers = body.address ? await freshProof() : {};
    const claimed = await call("POST", `/v1/rewards/${encodeURIComponent(reward.id)}/claim`, { body, token: state.participant.token, headers });
    state.claimForm = null;
    state.me.rewards = state.me.rewards.map((r) => (r.id === claimed.id ? claimed : r));
    renderRewards(true);
    say("rewards", claimed.coupon_code ? t("claimed_code", { code: claimed.coupon_code }) : t("reward_claimed"));
  });
}

function renderRewards(force = false) {
  const me = state.me;
  if (!me) return mount("rewards");
  if (state.claimForm && !force) return; // the visitor is typing an address
  const rows = (me.rewards || []).map((reward) => {
    const status = h("span", { class: "muted" }, t(`reward_${reward.status}`));
    const parts = [h("span", {}, rewardName(reward)), status];
    if (reward.coupon_code) parts.push(h("span", { class: "badge" }, t("claimed_code", { code: reward.coupon_code })));
    if (reward.status === "issued") {
      if (state.claimForm === reward.id) parts.push(addressForm(reward));
      else {
        parts.push(h("button", {
          type: "button",
          class: "claim",
          "data-reward": reward.id,
          onclick: (event) => {
            if (reward.type === "gift" && needsAssertion() && !assertion) {
              say("rewards", t("address_via_merchant"), "error");
            } else if (reward.type === "gift") {
              state.claimForm = reward.id;
              renderRewards(true);
              document.getElementById("addr-name")?.focus();
            } else claim(event.currentTarget, reward, {});
          },
        }, t("claim")));
      }
    }
    return h("li", { "data-status": reward.status }, parts);
  });
  mount("rewards", h("h2", {}, t("rewards_title")),
    rows.length ? h("ul", { class: "plain", id: "reward-list" }, rows) : h("p", { class: "muted", id: "reward-list" }, t("no_rewards")));
}

function renderLeaderboard() {
  const board = state.leaderboard;
  if (!board) return mount("leaderboard");
  const items = board.items || [];
  mount("leaderboard", h("h2", {}, t("leaderboard_title")),
    items.length
      ? h("ol", { class: "plain", id: "leaderboard-list" }, items.map((row) => h("li", { "data-row-id": row.row_id }, h("span", {}, `${row.rank}. ${row.nickname}`), h("span", { class: "muted" }, t("leaderboard_row", { n: row.score })))))
      : h("p", { class: "muted", id: "leaderboard-list" }, t("leaderboard_empty")));
}

// ---- group buy ----

function inGroup(gid) {
  return store.myGroup() === gid || store.joinedGroups().includes(gid);
}

function groupShareUrl(gid) {
  const url = new URL("/l/", location.href);
  url.searchParams.set("campaign", cid);
  url.searchParams.set("group", gid);
  if (state.participant) url.searchParams.set("ref", state.participant.invite_code);
  if (currentLang() === "en") url.searchParams.set("lang", "en");
  return url.toString();
}

function renderGroup() {
  const g = state.group;
  if (!g) return mount("group");
  const statusKey = { open: "group_open", succeeded: "group_succeeded", failed: "group_failed" }[g.status] || "group_open";
  const nodes = [
    h("h2", {}, t("group_title")),
    h("p", { class: "big", id: "group-status", "data-status": g.status }, t(statusKey)),
    h("p", { id: "group-members" }, t("group_members", { n: g.members_count, size: g.size })),
    h("progress", { value: g.members_count, max: g.size, "aria-labelledby": "group-members" }),
    h("p", {}, t("group_price", { price: yuan(g.price_fen), original: yuan(g.original_price_fen) })),
  ];
  if (g.status === "open") nodes.push(h("p", { id: "group-countdown", class: "muted" }, countdown(g.deadline, "group_left")));
  nodes.push(h("ul", { class: "plain", id: "group-roster" }, g.members.map((m) => h("li", {}, h("span", {}, m.nickname), m.leader ? h("span", { class: "badge" }, t("group_leader")) : m.system ? h("span", { class: "badge" }, t("group_system")) : null))));
  if (inGroup(g.group_id)) {
    nodes.push(h("p", { class: "muted", id: "group-joined" }, t("group_joined")));
    if (g.status === "open") nodes.push(...shareBox("group", t("group_share"), groupShareUrl(g.group_id), "group-link"));
  } else if (g.status === "open") {
    const button = h("button", { type: "button", id: "join-group", class: "wide", disabled: !state.participant, onclick: (e) => joinGroup(e.currentTarget, g.group_id) }, t("join_group"));
    nodes.push(button);
    if (!state.participant) nodes.push(h("p", { class: "muted" }, t("join_first")));
  }
  mount("group", ...nodes);
}

async function joinGroup(button, gid) {
  await act(button, t("joining_group"), "group", async () => {
    try {
      state.group = await call("POST", `/v1/groups/${encodeURIComponent(gid)}/members`, { token: state.participant.token });
    } catch (error) {
      if (error.code !== "ALREADY_MEMBER") throw error;
    }
    store.addJoinedGroup(gid);
    renderGroup();
    renderOpenGroup();
    say("group", t("group_joined"));
  });
}

function renderOpenGroup() {
  const mine = state.group && state.group.group_id === store.myGroup() && state.group.status === "open";
  if (state.campaign.mode !== "group_buy" || !state.participant || mine || state.campaign.phase !== "live") return mount("open-group");
  const tiers = state.campaign.rules.tiers || [];
  const select = h("select", { id: "group-size", name: "size" },
    tiers.map((tier) => h("option", { value: tier.size }, `${t("group_tier", { size: tier.size, price: yuan(tier.price_fen) })}`)));
  const button = h("button", {
    type: "button",
    id: "open-group",
    class: "wide",
    onclick: (e) => act(e.currentTarget, t("opening"), "open-group", async () => {
      const body = { size: Number(select.value) };
      const headers = { "Idempotency-Key": randomId("grp-") };
      const group = await call("POST", `/v1/campaigns/${encodeURIComponent(cid)}/groups`, { body, token: state.participant.token, headers });
      store.setMyGroup(group.group_id);
      state.gid = group.group_id;
      state.group = group;
      const url = new URL(location.href);
      url.searchParams.set("group", group.group_id);
      history.replaceState(null, "", url);
      renderGroup();
      renderOpenGroup();
      document.getElementById("group-link")?.focus();
    }),
  }, t("open_group"));
  mount("open-group", h("h2", {}, t("open_group")), h("label", { for: "group-size" }, t("group_size")), select, button);
}

// ---- assist ----

function assistBody(a, idPrefix) {
  const nodes = [h("p", { class: "big", id: `${idPrefix}-helpers` }, t("assist_helpers", { n: a.helpers, required: a.helpers_required }))];
  nodes.push(h("progress", { value: a.cut_so_far, max: a.target, "aria-labelledby": `${idPrefix}-helpers` }));
  if (a.goal === "cut_price") nodes.push(h("p", { id: `${idPrefix}-price` }, t("assist_price", { price: yuan(a.current_price_fen), remaining: yuan(a.remaining) })));
  else nodes.push(h("p", {}, t("assist_unlock_remaining", { remaining: a.remaining })));
  if (a.status === "completed") nodes.push(h("p", { class: "msg ok" }, t("assist_completed")));
  else if (a.status === "expired") nodes.push(h("p", { class: "msg error" }, t("assist_expired")));
  else if (a.expires_at) nodes.push(h("p", { class: "muted" }, countdown(a.expires_at, "assist_expires")));
  return nodes;
}

function renderFriendAssist() {
  const a = state.friendAssist;
  if (!a) return mount("friend-assist");
  const nodes = [h("h2", {}, t("friend_assist_title")), h("p", { class: "muted" }, t("invited_by_friend", { code: a.owner })), ...assistBody(a, "friend-assist")];
  if (a.status === "in_progress" && !state.helped) {
    nodes.push(h("button", { type: "button", id: "help", class: "wide", disabled: !state.participant, onclick: (e) => help(e.currentTarget, a.owner) }, t("help")));
    if (!state.participant) nodes.push(h("p", { class: "muted" }, t("join_first")));
  }
  mount("friend-assist", ...nodes);
}

async function help(button, owner) {
  await act(button, t("helping"), "friend-assist", async () => {
    let result;
    try {
      result = await call("POST", `/v1/campaigns/${encodeURIComponent(cid)}/assists/${encodeURIComponent(owner)}`, { token: state.participant.token });
    } catch (error) {
      if (error.code === "ALREADY_HELPED") {
        state.helped = true;
        renderFriendAssist();
      }
      throw error;
    }
    state.helped = true;
    state.friendAssist = result;
    renderFriendAssist();
    say("friend-assist", result.goal === "cut_price" ? t("helped", { cut: yuan(result.cut) }) : t("helped_unlock"));
  });
}

function renderMyAssist() {
  const a = state.myAssist;
  if (!a) return mount("my-assist");
  mount("my-assist", h("h2", {}, t("my_assist_title")), ...assistBody(a, "my-assist"));
}

// ---- data ----

async function refresh() {
  if (refresh.running || !state.campaign) return;
  refresh.running = true;
  const c = state.campaign;
  const p = state.participant;
  const jobs = [];
  if (p) {
    jobs.push(call("GET", `/v1/campaigns/${encodeURIComponent(cid)}/me`, { token: p.token }).then((me) => {
      state.me = me;
      renderProgress();
      renderCommission();
      renderRewards();
    }).catch((error) => {
      if (error.status === 401 || error.code === "PARTICIPANT_NOT_FOUND") {
        // The token expired or the participant is gone: offer the join again.
        state.participant = null;
        state.me = null;
        store.setParticipant(null);
        renderAll();
      }
      throw error;
    }));
  }
  if (c.mode === "group_buy") {
    const gid = state.gid || store.myGroup();
    if (gid) {
      jobs.push(call("GET", `/v1/groups/${encodeURIComponent(gid)}`).then((group) => {
        state.group = group;
        renderGroup();
        renderOpenGroup();
      }));
    }
  }
  if (c.mode === "assist") {
    if (ref && ref !== p?.invite_code) {
      jobs.push(call("GET", `/v1/campaigns/${encodeURIComponent(cid)}/assists/${encodeURIComponent(ref)}`).then((a) => {
        state.friendAssist = a;
        renderFriendAssist();
      }));
    }
    if (p) {
      jobs.push(call("GET", `/v1/campaigns/${encodeURIComponent(cid)}/assists/${encodeURIComponent(p.invite_code)}`).then((a) => {
        state.myAssist = a;
        renderMyAssist();
      }));
    }
  }
  if (c.mode === "invite" || c.mode === "poster") {
    jobs.push(call("GET", `/v1/campaigns/${encodeURIComponent(cid)}/leaderboard?limit=10`).then((board) => {
      state.leaderboard = board;
      renderLeaderboard();
    }));
  }
  const outcomes = await Promise.allSettled(jobs);
  const failed = outcomes.find((o) => o.status === "rejected");
  if (failed) notice(errorText(failed.reason));
  else renderPhase();
  refresh.running = false;
}

function renderAll() {
  const c = state.campaign;
  document.title = c.title;
  document.getElementById("title").textContent = c.title;
  renderPhase();
  renderOffer();
  renderJoin();
  renderLink();
  renderPoster();
  renderProgress();
  renderCommission();
  renderRewards(true);
  renderLeaderboard();
  renderGroup();
  renderOpenGroup();
  renderFriendAssist();
  renderMyAssist();
  renderRules();
}

function renderLangToggle() {
  const toggle = document.getElementById("lang");
  toggle.textContent = t("lang_switch");
  toggle.lang = currentLang() === "en" ? "zh-CN" : "en";
  toggle.setAttribute("aria-label", t("lang_switch_label"));
}

async function main() {
  setLang(currentLang());
  renderLangToggle();
  document.getElementById("lang").addEventListener("click", () => {
    setLang(currentLang() === "en" ? "zh" : "en");
    renderLangToggle();
    for (const msg of document.querySelectorAll(".msg")) msg.textContent = ""; // said in the other language
    if (state.campaign) renderAll();
    else notice(cid ? t("loading") : t("missing_campaign"));
  });
  if (!cid) {
    notice(t("missing_campaign"));
    return;
  }
  notice(t("loading"));
  store.addClick(params.get("click"));
  state.participant = store.participant();
  try {
    state.campaign = await call("GET", `/v1/campaigns/${encodeURIComponent(cid)}/public`);
  } catch (error) {
    notice(errorText(error));
    return;
  }
  const subject = needsAssertion() && assertion ? assertionSubject(assertion) : null;
  if (subject && state.participant?.subject && state.participant.subject !== subject) {
    // Someone else is signed in at the merchant now than the person this browser joined as.
    store.forgetParticipant();
    state.participant = null;
  }
  if (loginThroughWeChat()) return;
  renderAll();
  beacon(cid, "view", channel, state.participant?.token);
  await refresh();
  setInterval(() => {
    if (document.visibilityState === "visible") refresh();
  }, REFRESH_MS);
  setInterval(tick, 1000);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") refresh();
  });
}

main();
