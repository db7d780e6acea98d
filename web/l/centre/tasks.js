// Tasks (任务): each active task with the participant's progress in its current period, when the period starts over
// and the points it gives (GET /v1/campaigns/{cid}/me/tasks, docs/retention.md). Progress is counted from the
// stream: a fact (a check-in, an invite) shows here a few seconds after it happened.
import { t } from "../i18n.js";
import { h, when } from "./dom.js";

function row(ctx, task) {
  const period = task.resets_at
    ? t(`centre_task_${task.period}`, { time: when(task.resets_at, ctx.timeZone) })
    : t("centre_task_once");
  const state = task.done ? h("span", { class: "badge task-done" }, t("centre_task_done")) : null;
  return h("li", { "data-task": task.task_id, "data-done": task.done ? "true" : "false" },
    h("div", { class: "entry" },
      h("p", { class: "entry-head" }, h("strong", {}, task.name), state),
      task.description ? h("p", { class: "entry-why" }, task.description) : null,
      h("progress", { max: task.target, value: task.progress, "aria-label": task.name }),
      h("p", { class: "entry-head" },
        h("span", { class: "task-progress" }, t("centre_task_progress", { n: task.progress, target: task.target })),
        h("span", { class: "muted" }, period))),
    h("span", { class: "points" }, `+${task.reward.points}`));
}

export default {
  id: "tasks",
  async load(ctx) {
    const mine = await ctx.get(`/v1/campaigns/${encodeURIComponent(ctx.cid)}/me/tasks`);
    return mine.tasks.length ? mine.tasks : null; // no task for this campaign: nothing to show
  },
  render(ctx, tasks) {
    return [h("h2", {}, t("centre_tasks_title")), h("ul", { class: "plain entries", id: "task-list" }, tasks.map((task) => row(ctx, task)))];
  },
};
