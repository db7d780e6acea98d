// The console shell: session, navigation, language toggle and the hash router. Each screen is one
// module exporting `render(root, params, ctx)`; it may return a cleanup function (timers, listeners).
import { ApiError, clearSession, session } from "./api.js";
import { add, clear, fill, h, loading } from "./dom.js";
import { lang, setLang, t } from "./i18n.js";
import { installStepUp } from "./stepup.js";

const SCREENS = {
  login: () => import("./screens/login.js"),
  campaigns: () => import("./screens/campaigns.js"),
  wizard: () => import("./screens/wizard.js"),
  dashboard: () => import("./screens/dashboard.js"),
  participants: () => import("./screens/participants.js"),
  automations: () => import("./screens/automations.js"),
  outbox: () => import("./screens/outbox.js"),
  webhooks: () => import("./screens/webhooks.js"),
  exports: () => import("./screens/exports.js"),
  reviews: () => import("./screens/reviews.js"),
  audit: () => import("./screens/audit.js"),
  domains: () => import("./screens/domains.js"),
  platforms: () => import("./screens/platforms.js"),
  payouts: () => import("./screens/payouts.js"),
  tasks: () => import("./screens/tasks.js"),
  tiers: () => import("./screens/tiers.js"),
  churn: () => import("./screens/churn.js"),
  checkins: () => import("./screens/checkins.js"),
  stoploss: () => import("./screens/stoploss.js"),
  growth: () => import("./screens/growth.js"),
  catalogue: () => import("./screens/catalogue.js"),
};

// Hash routes: #/campaigns, #/new, #/new/CID (edit a draft), #/campaigns/CID (dashboard), ...
const ROUTES = [
  [/^#\/login$/, "login"],
  [/^#\/campaigns$/, "campaigns"],
  [/^#\/new(?:\/([\w-]+))?$/, "wizard"],
  [/^#\/campaigns\/([\w-]+)$/, "dashboard"],
  [/^#\/campaigns\/([\w-]+)\/stop-loss$/, "stoploss"],
  [/^#\/participants$/, "participants"],
  [/^#\/automations$/, "automations"],
  [/^#\/outbox$/, "outbox"],
  [/^#\/webhooks(?:\/(identity-keys|api-keys))?$/, "webhooks"],
  [/^#\/exports$/, "exports"],
  [/^#\/reviews$/, "reviews"],
  [/^#\/audit$/, "audit"],
  [/^#\/domains$/, "domains"],
  [/^#\/platforms$/, "platforms"],
  [/^#\/payouts$/, "payouts"],
  [/^#\/tasks$/, "tasks"],
  [/^#\/tiers$/, "tiers"],
  [/^#\/churn$/, "churn"],
  [/^#\/checkins$/, "checkins"],
  [/^#\/growth$/, "growth"],
  [/^#\/catalogue$/, "catalogue"],
];

// [href, label, roles]: an entry with roles shows only to them (the API refuses the others anyway).
const NAV = [
  ["#/campaigns", "nav.campaigns"],
  ["#/new", "nav.new"],
  ["#/participants", "nav.participants"],
  ["#/automations", "nav.automations"],
  ["#/outbox", "nav.outbox"],
  ["#/webhooks", "nav.webhooks"],
  ["#/exports", "nav.exports"],
  ["#/reviews", "nav.reviews"],
  ["#/audit", "nav.audit"],
  ["#/domains", "nav.domains"],
  ["#/platforms", "nav.platforms"],
  ["#/payouts", "nav.payouts", ["owner", "finance"]],
  ["#/tasks", "nav.tasks", ["owner", "operator"]],
  ["#/tiers", "nav.tiers", ["owner", "operator"]],
  ["#/churn", "nav.churn", ["owner", "operator", "analyst"]],
  ["#/checkins", "nav.checkins", ["owner", "operator"]],
  ["#/growth", "nav.growth"],
  ["#/catalogue", "nav.catalogue", ["owner", "operator"]],
];

const view = document.getElementById("view");
const announcer = document.getElementById("announce");
let cleanup = null;
let rendering = 0;

export function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function announce(text) {
  announcer.textContent = "";
  // A fresh text node after a tick so screen readers repeat identical messages.
  setTimeout(() => (announcer.textContent = text), 30);
}

function match(hash) {
  for (const [pattern, name] of ROUTES) {
    const found = pattern.exec(hash);
    if (found) return [name, found.slice(1).filter(Boolean)];
  }
  return [null, []];
}

function renderChrome(active) {
  const current = session();
  const nav = document.getElementById("nav");
  clear(nav);
  if (current) {
    add(
      nav,
      h(
        "ul",
        {},
        NAV.filter(([, , roles]) => !roles || roles.includes(current.role)).map(([href, key]) =>
          h("li", {}, h("a", { href, "aria-current": active === href.slice(2) ? "page" : false }, t(key))),
        ),
      ),
    );
  }
  document.getElementById("who").textContent = current ? `${current.email} · ${t(`role.${current.role}`)}` : "";
  const logout = document.getElementById("logout");
  logout.hidden = !current;
  logout.textContent = t("auth.logout");
  const toggle = document.getElementById("lang");
  toggle.textContent = t("lang.switch");
  toggle.setAttribute("aria-label", t("lang.switch_label"));
  document.documentElement.lang = lang() === "zh" ? "zh-CN" : "en";
  document.title = t("app.title");
  document.getElementById("brand-name").textContent = t("app.brand");
}

async function route() {
  const hash = location.hash || "#/campaigns";
  let [name, params] = match(hash);
  if (!session() && name !== "login") {
    sessionStorage.setItem("fission:admin:after-login", hash);
    location.replace("#/login");
    return;
  }
  if (!name) {
    location.replace("#/campaigns");
    return;
  }
  if (name === "login" && session()) name = "campaigns";
  const ticket = ++rendering;
  if (typeof cleanup === "function") cleanup();
  cleanup = null;
  renderChrome(name === "dashboard" ? "campaigns" : name === "wizard" ? "new" : name);
  fill(view, loading(t("common.loading")));
  try {
    const screen = await SCREENS[name]();
    if (ticket !== rendering) return;
    const root = h("div", { class: `screen screen-${name}` });
    fill(view, root);
    cleanup = await screen.render(root, params, { navigate, announce, session: session() });
    if (ticket === rendering && document.activeElement === document.body) view.focus({ preventScroll: true });
  } catch (error) {
    if (ticket !== rendering) return;
    const message = error instanceof ApiError ? `${error.message} (${error.code})` : String(error?.message || error);
    fill(view, h("div", { class: "error-box", role: "alert" }, h("h1", {}, t("common.error")), h("p", {}, message)));
  }
}

document.getElementById("lang").addEventListener("click", () => {
  setLang(lang() === "zh" ? "en" : "zh");
  route();
});
document.getElementById("logout").addEventListener("click", () => {
  clearSession();
  announce(t("auth.logged_out"));
  navigate("#/login");
});
window.addEventListener("fission:unauthorized", () => {
  sessionStorage.setItem("fission:admin:notice", "auth.expired");
  location.hash = "#/login";
});
window.addEventListener("hashchange", route);
installStepUp();
route();
