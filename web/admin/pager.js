// A listing read page by page through the API's `next_cursor`: "More" appends the next page, and
// `load(true)` starts again (after a filter changed). `draw(rows)` returns what the list shows.
import { errorBox, fill, h, loading } from "./dom.js";
import { t } from "./i18n.js";

export function pager(list, fetchPage, draw) {
  const more = h("button", { type: "button", hidden: true }, t("common.more"));
  let cursor = null;
  let rows = [];

  async function load(reset) {
    if (reset) {
      cursor = null;
      rows = [];
      fill(list, loading(t("common.loading")));
    }
    try {
      const page = await fetchPage(cursor);
      rows = rows.concat(page.items);
      cursor = page.next_cursor;
      more.hidden = !cursor;
      fill(list, draw(rows));
    } catch (error) {
      fill(list, errorBox(error, { notAvailable: t("common.not_available") }));
    }
  }

  more.addEventListener("click", () => load(false));
  return { more, load, count: () => rows.length };
}
