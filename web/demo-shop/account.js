// The member's referral page: log in first (a redirect to the login page and back), then join the campaign
// with the assertion the shop's server signs, and show the invite link, progress, rewards and leaderboard.
import * as Fission from "../sdk/fission.js";
import { say, sign, start } from "./shop.js";

const REFRESH_MS = 3000;
const current = await start(Fission);
if (!current.user) {
  location.replace("login.html?next=account.html");
} else {
  document.getElementById("hello").textContent = `Hello, ${current.user.name}`;
  try {
    const { assertion } = await sign();
    const joined = await Fission.join({ assertion });
    say(joined.invited_by ? "You are a member: your friend's invite counted." : "You are a member.");
    const panel = document.getElementById("referral");
    await Fission.render(panel);
    // The invites of friends are counted by the stream within seconds: refresh while the page is visible.
    setInterval(() => {
      if (document.visibilityState === "visible") Fission.render(panel).catch(() => {});
    }, REFRESH_MS);
  } catch (error) {
    say(`${error.message}${error.code ? ` (${error.code})` : ""}`, "error");
  }
}
