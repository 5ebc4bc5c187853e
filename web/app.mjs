// The demo page's UI: loads the chosen example's WebAssembly module (models/NAME.mjs, from
// web/build.sh), makes a slider per parameter, solves over the model's time span with
// solver.mjs and plots the states; every slider move solves and plots again, on the next
// frame: moves made while a slow solve runs (Van der Pol at μ = 100 takes a third of a
// second) become one solve of the latest values, not one solve each.
//
// What tests read (web/test/browser.mjs), kept stable:
//   #model                    <select> of the examples (values: the names in EXAMPLES)
//   #param-NAME               a parameter's slider: s in [-1, 1], the value default·10^s
//                             (s itself for a parameter whose default is 0)
//   #value-NAME[data-value]   the parameter value the slider gives
//   #final-state              data-model, data-t, data-values (JSON: the state at the end),
//                             data-params (JSON θ), data-solves (solves so far, all models)
//   #solve-ms[data-ms]        the last solve's wall time (y0 and the integration; no plotting)
//   #status[data-state]       loading | ok | error

import { solve } from "./solver.mjs";
import { plot } from "./plot.mjs";

// The examples: models/NAME.{wasm,mjs} (web/build.sh lists the same names). The time
// spans are the models' `domain time` lines; the loader's description does not carry them.
const EXAMPLES = {
  robertson: { model: "Robertson", span: [0, 1e5], logT: true, logY: true },
  lotka_volterra: { model: "LotkaVolterra", span: [0, 15], logT: false, logY: false },
  // v spikes to ±1300 where x jumps: plotted together, x would be a flat line.
  van_der_pol: { model: "VanDerPol", span: [0, 3000], logT: false, logY: false, hidden: ["v"] },
};
const TOLERANCES = { rtol: 1e-6, atol: 1e-10 };

const $ = (id) => document.getElementById(id);
const loaded = new Map(); // name → the loader's model object
let current = null; // { name, example, model }
let solves = 0;

async function loadModel(name) {
  if (!loaded.has(name)) {
    const example = EXAMPLES[name];
    const { load } = await import(`./models/${name}.mjs`);
    loaded.set(name, (await load())[example.model]);
  }
  return loaded.get(name);
}

async function select(name) {
  setStatus("loading", `loading ${name}…`);
  try {
    const model = await loadModel(name);
    if ($("model").value !== name) return; // another example was picked while this loaded
    const example = EXAMPLES[name];
    current = { name, example, model };
    $("log-t").checked = example.logT;
    $("log-y").checked = example.logY;
    makeSliders(model);
    makeSeriesChoice(model, example.hidden ?? []);
    run();
  } catch (e) {
    setStatus("error", `could not load ${name}: ${e.message}`);
    throw e;
  }
}

/** One row per scalar parameter: name, slider, value. */
function makeSliders(model) {
  const box = $("params");
  box.replaceChildren();
  for (const slot of model.layout.params.slots) {
    if (slot.size !== 1) continue; // arrays (network weights) have no slider
    const base = model.paramsDefault[slot.offset];
    const label = document.createElement("label");
    label.textContent = slot.unit ? `${slot.name} [${slot.unit}]` : slot.name;
    label.htmlFor = `param-${slot.name}`;
    const input = Object.assign(document.createElement("input"), {
      type: "range", min: "-1", max: "1", step: "0.01", value: "0", id: `param-${slot.name}`,
    });
    input.dataset.param = slot.name;
    input.dataset.offset = slot.offset;
    input.dataset.default = base;
    const value = Object.assign(document.createElement("output"), { id: `value-${slot.name}` });
    input.addEventListener("input", () => { showValue(input, value); schedule(); });
    showValue(input, value);
    box.append(label, input, value);
  }
}

/** A checkbox per state: which ones the plot shows. */
function makeSeriesChoice(model, hidden) {
  const box = $("series");
  box.replaceChildren("Plot:");
  for (const slot of model.layout.states.slots) {
    const label = document.createElement("label");
    const toggle = Object.assign(document.createElement("input"), { type: "checkbox", checked: !hidden.includes(slot.name) });
    toggle.dataset.state = slot.name;
    toggle.addEventListener("change", draw);
    label.append(toggle, ` ${slot.name}`);
    box.append(label);
  }
}

function sliderValue(input) {
  const base = Number(input.dataset.default);
  const s = Number(input.value);
  return base === 0 ? s : base * 10 ** s;
}

function showValue(input, output) {
  const v = sliderValue(input);
  output.dataset.value = v;
  output.textContent = format(v);
}

function theta() {
  const values = Float64Array.from(current.model.paramsDefault);
  for (const input of $("params").querySelectorAll("input[data-param]")) {
    values[Number(input.dataset.offset)] = sliderValue(input);
  }
  return values;
}

let scheduled = false;
/** Solves on the next frame, once however many slider events arrive before it. */
function schedule() {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => { scheduled = false; run(); });
}

/** Solves the current model at the sliders' parameters, shows the result and plots it. */
function run() {
  if (!current) return;
  const { name, example, model } = current;
  const p = theta();
  const [t0, t1] = example.span;
  const options = { ...TOLERANCES, hmax: example.logT ? undefined : (t1 - t0) / 200 };
  let sol;
  const start = performance.now();
  try {
    sol = solve((t, y) => model.rhs(t, y, p), (t, y) => model.jacobian(t, y, p), model.y0(p), t0, t1, options);
  } catch (e) {
    solves++;
    Object.assign($("final-state").dataset, { model: name, values: "", params: JSON.stringify(Array.from(p)), solves });
    $("final-state").textContent = "";
    setStatus("error", e.message);
    return;
  }
  const ms = performance.now() - start;
  solves++;

  const names = model.layout.states.slots.map((s) => s.name);
  const last = Array.from(sol.y[sol.y.length - 1]);
  const out = $("final-state");
  Object.assign(out.dataset, {
    model: name, t: sol.t[sol.t.length - 1], values: JSON.stringify(last), params: JSON.stringify(Array.from(p)), solves,
  });
  out.textContent = `t = ${format(sol.t[sol.t.length - 1])}: ` + last.map((v, i) => `${names[i]} = ${v.toExponential(6)}`).join(", ");
  $("solve-ms").dataset.ms = ms;
  $("solve-ms").textContent = `${ms.toFixed(1)} ms`;
  const s = sol.stats;
  $("solver-stats").textContent = `RODAS4, rtol ${TOLERANCES.rtol}, atol ${TOLERANCES.atol}: ` +
    `${s.steps} steps (${s.rejected} rejected), ${s.rhs} rhs calls, ${s.jacobians} Jacobians`;
  setStatus("ok", `${model.name}: solved on [${t0}, ${format(t1)}]`);

  current.solution = { t: sol.t, series: names.map((n, i) => ({ name: n, index: i, values: sol.y.map((y) => y[i]) })) };
  draw();
}

function draw() {
  if (!current?.solution) return;
  const shown = new Set([...$("series").querySelectorAll("input:checked")].map((b) => b.dataset.state));
  const series = current.solution.series.filter((s) => shown.has(s.name));
  plot($("plot"), { t: current.solution.t, series, logT: $("log-t").checked, logY: $("log-y").checked });
}

function setStatus(state, text) {
  $("status").dataset.state = state;
  $("status").textContent = text;
}

function format(x) {
  const a = Math.abs(x);
  return a !== 0 && (a >= 1e4 || a < 1e-3) ? x.toExponential(3) : String(Number(x.toPrecision(4)));
}

// The example is also the URL's fragment (index.html#van_der_pol), so a link opens it.
$("model").addEventListener("change", (e) => {
  history.replaceState(null, "", `#${e.target.value}`);
  select(e.target.value);
});
window.addEventListener("hashchange", () => {
  const name = location.hash.slice(1);
  if (name in EXAMPLES && name !== current?.name) {
    $("model").value = name;
    select(name);
  }
});
$("log-t").addEventListener("change", draw);
$("log-y").addEventListener("change", draw);
$("solve").addEventListener("click", run);
$("reset").addEventListener("click", () => { makeSliders(current.model); run(); });
window.addEventListener("resize", draw);

const initial = location.hash.slice(1) in EXAMPLES ? location.hash.slice(1) : "robertson";
$("model").value = initial;
select(initial);
