// The participant centre's sections, one module per feature, in page order (docs/web.md, "Participant centre").
//
// A section module's default export is { id, load(ctx), render(ctx, data) }:
// - `id`: the section element is `#c-{id}`;
// - `load(ctx)` reads what the section shows (ctx.get(path) for GETs, shared between sections in one load) and
//   returns it, or null when the feature is off for this campaign; an API answering 404 hides the section too;
// - `render(ctx, data)` returns the section's nodes (text only); ctx.say(id, text, kind) writes its message line and
//   ctx.reload() reads every section again (after a change, such as a redemption).
import catalogue from "./catalogue.js";
import checkins from "./checkins.js";
import points from "./points.js";
import tasks from "./tasks.js";
import tier from "./tier.js";

export const SECTIONS = [points, checkins, tasks, tier, catalogue];
