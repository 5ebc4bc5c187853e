// Driven by tests/wasm_node.rs: loads the loaders (`model.mjs`) that `sci compile --target
// wasm32` generated, calls the functions the cases name on the inputs they give, and
// prints one JSON result per case. Numbers travel as the hexadecimal bits of IEEE doubles,
// so nothing is rounded on the way.
//
//   node tests/wasm_node/check.mjs cases.json
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const view = new DataView(new ArrayBuffer(8));
const fromBits = (s) => {
  view.setBigUint64(0, BigInt("0x" + s));
  return view.getFloat64(0);
};
const toBits = (x) => {
  view.setFloat64(0, x);
  return view.getBigUint64(0).toString(16).padStart(16, "0");
};

const cases = JSON.parse(readFileSync(process.argv[2], "utf8"));
const loaded = new Map();
const results = [];
for (const c of cases) {
  if (!loaded.has(c.loader)) {
    const mod = await import(pathToFileURL(c.loader).href);
    loaded.set(c.loader, { mod, sci: await mod.load() });
  }
  const { mod, sci } = loaded.get(c.loader);
  const model = sci[c.model];
  const f = c.alias ? model[c.alias] : model.functions[c.function];
  if (typeof f !== "function") {
    results.push({ id: c.id, ok: false, name: "Missing", message: `no function ${c.alias ?? c.function}` });
    continue;
  }
  const spec = mod.description.modules.find((m) => m.name === c.model).functions.find((g) => g.name === c.function);
  const args = c.inputs.map((bits, k) => {
    const values = bits.map(fromBits);
    const input = spec.inputs[k];
    return !input.batched && input.shape.length === 0 && values.length === 1 ? values[0] : Float64Array.from(values);
  });
  try {
    const r = f(...args);
    const values = typeof r === "number" ? [r] : Array.from(r);
    results.push({ id: c.id, ok: true, bits: values.map(toBits) });
  } catch (e) {
    results.push({
      id: c.id,
      ok: false,
      name: e.name,
      isSciError: e instanceof mod.SciError,
      isRangeError: e instanceof RangeError,
      status: e.status ?? null,
      statusName: e.statusName ?? null,
      message: e.message,
    });
  }
}
// The default parameters the loader computes from the description, per model.
const defaults = [];
for (const [loader, { sci }] of loaded) {
  for (const m of sci.description.modules) {
    defaults.push({ loader, model: m.name, bits: Array.from(sci[m.name].paramsDefault).map(toBits) });
  }
}
process.stdout.write(JSON.stringify({ results, defaults }) + "\n");
