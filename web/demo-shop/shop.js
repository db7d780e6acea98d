// The demo shop's shared code (served by `make run` at /demo-shop/; docs/sdk.md). It stands for a merchant's
// own site: its pages, its login (the shop's server under api/, local/demo_shop.py) and the Fission SDK.
// Each page passes in the SDK it loaded: the ES module (most pages) or window.Fission (the login page).

export const PRODUCTS = [
  { sku: "tea", name: "Jasmine green tea, 100 g", price: "¥38", text: "Spring-picked leaves scented with jasmine." },
  { sku: "mug", name: "Stoneware mug", price: "¥69", text: "Hand-glazed, 350 ml, dishwasher safe." },
  { sku: "tote", name: "Canvas tote bag", price: "¥45", text: "Heavy cotton canvas with an inside pocket." },
];

// The shop's own server: JSON in and out, the session in an HttpOnly cookie.
async function shopApi(method, route, body) {
  const response = await fetch(`api/${route}`, {
    method,
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new Error(data?.error?.message || response.statusText);
  return data;
}

export const session = () => shopApi("GET", "session");
export const login = (name) => shopApi("POST", "login", { name });
export const logout = () => shopApi("POST", "logout", {});
// The assertion the shop's server signs for its logged-in member (docs/identity.md).
export const sign = () => shopApi("POST", "sign", {});

export function say(text, kind = "ok") {
  const line = document.getElementById("msg");
  line.className = `msg ${kind}`;
  line.textContent = text;
}

function header(user, fission) {
  const who = document.getElementById("who");
  if (!user) {
    const link = document.createElement("a");
    link.href = `login.html?next=${encodeURIComponent(location.pathname.split("/").pop() + location.search)}`;
    link.textContent = "Log in";
    who.replaceChildren(link);
    return;
  }
  const name = document.createElement("span");
  name.className = "user";
  name.textContent = user.name;
  const out = document.createElement("button");
  out.type = "button";
  out.className = "link";
  out.textContent = "Log out";
  out.addEventListener("click", async () => {
    await logout();
    fission.forget(); // the next member on this browser gets their own participant
    location.href = "index.html";
  });
  who.replaceChildren(name, " · ", out);
}

async function banner(fission) {
  const box = document.getElementById("banner");
  try {
    const offer = await fission.campaign();
    const lines = [offer.title];
    const welcome = offer.rules?.invitee_reward?.name;
    if (fission.attribution().ref && welcome) lines.push(`A friend invited you: become a member for ${welcome}.`);
    box.replaceChildren(...lines.map((text) => Object.assign(document.createElement("p"), { textContent: text })));
    box.hidden = false;
  } catch {
    box.hidden = true; // the offer is a bonus; the shop works without it
  }
}

// Every page: who is logged in, the SDK set up for the shop's campaign (it keeps ref/click, sends a view).
export async function start(fission) {
  const current = await session();
  fission.init({ campaign: current.campaign, lang: "en" });
  header(current.user, fission);
  banner(fission);
  return current;
}
