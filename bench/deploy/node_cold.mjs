// bench/deploy.sh: one cold start of a Node process serving a compiled model: import the
// generated loader, compile and instantiate the module (`load()`), one call of `rhs`; then
// (with `--calls`) the median time of a warm call. Prints one JSON line; times in seconds,
// `performance.now()` counts from the process's start.
const t0 = performance.now();
const [loaderPath, model, points] = [process.argv[2], process.argv[3], process.argv[4] === "--calls"];
const { pathToFileURL } = await import("node:url");
const { load } = await import(pathToFileURL(loaderPath).href);
const t1 = performance.now();
const sci = await load();
const t2 = performance.now();
const m = sci[model];
const y = m.y0(m.paramsDefault);
const dy = m.rhs(0, y, m.paramsDefault);
const t3 = performance.now();
const out = { runtime: "node", model, n: y.length, script_start_s: t0 / 1e3, import_s: (t1 - t0) / 1e3,
  load_s: (t2 - t1) / 1e3, first_call_s: (t3 - t2) / 1e3, ready_s: t3 / 1e3, check: dy[0] };
if (points) {
  // Calls batched so one sample lasts >= 2 ms; the median of 51 samples.
  let k = 1;
  for (;;) {
    const s = performance.now();
    for (let i = 0; i < k; i++) m.rhs(0, y, m.paramsDefault);
    if (performance.now() - s >= 2) break;
    k *= 2;
  }
  const samples = [];
  for (let j = 0; j < 51; j++) {
    const s = performance.now();
    for (let i = 0; i < k; i++) m.rhs(0, y, m.paramsDefault);
    samples.push((performance.now() - s) / 1e3 / k);
  }
  samples.sort((a, b) => a - b);
  out.call_s = samples[25];
}
console.log(JSON.stringify(out));
