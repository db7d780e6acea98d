// ECharts, vendored by `make web` into web/vendor/ (scripts/build-web), loaded on first use. Charts are
// a picture of numbers the dashboard also shows as text and tables, so the page stays usable without them.
let loaded = null;

export function echarts() {
  loaded ??= import("../vendor/echarts.esm.min.js");
  return loaded;
}

/** Draws `option` into `el` (re-using its chart), sized to the element, resized with the window. */
export async function chart(el, option) {
  const lib = await echarts();
  const instance = lib.getInstanceByDom(el) || lib.init(el, null, { renderer: "svg" });
  instance.setOption(option, true);
  if (!el.dataset.resizes) {
    el.dataset.resizes = "1";
    const observer = new ResizeObserver(() => instance.resize());
    observer.observe(el);
  }
  return instance;
}

export function dispose(el) {
  loaded?.then((lib) => lib.getInstanceByDom(el)?.dispose()).catch(() => {});
}
