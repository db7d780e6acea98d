// The shop's login page. It loads the SDK's script-tag build (window.Fission) to show that one works too.
// After logging in the member goes back where they were sent from (`next`, a page of this shop only).
import { login, say, start } from "./shop.js";

const { Fission } = window;
await start(Fission);
const wanted = new URLSearchParams(location.search).get("next") || "";
const next = /^[a-z-]+\.html(\?[\w=&%.-]*)?$/.test(wanted) ? wanted : "index.html";
const form = document.getElementById("login");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    await login(form.elements.name.value.trim());
    location.replace(next);
  } catch (error) {
    say(error.message, "error");
    button.disabled = false;
  }
});
form.querySelector("button").disabled = false; // disabled in the HTML until this handler is in place
