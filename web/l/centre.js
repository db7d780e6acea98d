// The participant centre: /l/centre.html?campaign=CID[&lang=en]. The participant's own points, the rewards shop and,
// as they are added, their other retention features, one section module each (centre/sections.js, docs/web.md).
// It uses the participant token the landing page kept when they joined; without one it sends them there first.
import { call, campaignStore } from "./api.js";
import { h } from "./centre/dom.js";
import { SECTIONS } from "./centre/sections.js";
import { currentLang, setLang, t } from "./i18n.js";

const params = new URLSearchParams(location.search);
const cid = params.get("campaign");
const token = cid ? campaignStore(cid).participant()?.token : null;
const shown = new Map(); // section id -> the data it was last rendered from

function notice(text) {
  document.getElementById("notice").textContent = text || "";
}

function errorText(error) {
  return error?.code && error.code !== "NETWORK_ERROR" ? `${error.message} (${error.code})` : String(error?.message || error);
}

function slot(id) {
  return document.getElementById(`c-${id}`);
}

function say(id, text, kind = "ok") {
  const msg = slot(id).querySelector(".msg");
  msg.className = `msg ${kind}`;
  msg.textContent = text;
}

const ctx = {
  cid,
  timeZone: undefined,
  errorText,
  say,
  // Authenticated as the participant; the API's own error code and message come back as an ApiError.
  call: (method, path, options = {}) => call(method, path, { ...options, token }),
  get: null, // set per load: one request per path, whichever sections ask
  reload,
};

function paint(module) {
  const section = slot(module.id);
  const data = shown.get(module.id);
  if (data === undefined || data === null) {
    section.hidden = true;
    return;
  }
  const body = section.querySelector(".body");
  body.replaceChildren(...(data instanceof Error ? [h("p", { class: "msg error" }, t("centre_section_error", { error: errorText(data) }))] : module.render(ctx, data)));
  section.hidden = false;
}

async function loadOne(module) {
  try {
    shown.set(module.id, await module.load(ctx));
  } catch (error) {
    // Not built for this deployment or switched off for the campaign: the section is simply not there.
    if (error.status === 404) shown.set(module.id, null);
    else if (error.status === 401 || error.status === 410) throw error;
    else shown.set(module.id, error);
  }
  paint(module);
}

async function reload() {
  const asked = new Map();
  ctx.get = (path) => {
    if (!asked.has(path)) asked.set(path, ctx.call("GET", path));
    return asked.get(path);
  };
  try {
    await Promise.all(SECTIONS.map(loadOne));
  } catch (error) {
    // The token expired, was revoked or the person erased themselves: only the landing page can join again.
    for (const module of SECTIONS) slot(module.id).hidden = true;
    notice(`${t("centre_join_first")} (${error.code})`);
  }
}

function renderChrome(title) {
  document.title = title ? `${t("centre_title")} · ${title}` : t("centre_title");
  document.getElementById("title").textContent = document.title;
  const toggle = document.getElementById("lang");
  toggle.textContent = t("lang_switch");
  toggle.lang = currentLang() === "en" ? "zh-CN" : "en";
  toggle.setAttribute("aria-label", t("lang_switch_label"));
  const back = document.getElementById("back");
  back.textContent = `← ${t("centre_back")}`;
  back.href = `./?${new URLSearchParams({ campaign: cid || "", ...(currentLang() === "en" ? { lang: "en" } : {}) })}`;
}

async function main() {
  setLang(currentLang());
  let title = "";
  renderChrome(title);
  const page = document.getElementById("centre");
  for (const module of SECTIONS) {
    page.append(h("section", { id: `c-${module.id}`, class: "card", hidden: true }, h("div", { class: "body" }), h("p", { class: "msg", "aria-live": "polite" })));
  }
  document.getElementById("lang").addEventListener("click", () => {
    setLang(currentLang() === "en" ? "zh" : "en");
    renderChrome(title);
    for (const msg of document.querySelectorAll(".msg")) msg.textContent = ""; // said in the other language
    if (!token || !cid) notice(cid ? t("centre_join_first") : t("missing_campaign"));
    for (const module of SECTIONS) paint(module);
  });
  if (!cid) return notice(t("missing_campaign"));
  if (!token) return notice(t("centre_join_first"));
  try {
    const campaign = await call("GET", `/v1/campaigns/${encodeURIComponent(cid)}/public`);
    title = campaign.title;
    ctx.timeZone = campaign.timezone || undefined;
  } catch (error) {
    return notice(errorText(error));
  }
  renderChrome(title);
  notice("");
  await reload();
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") reload();
  });
}

main();
