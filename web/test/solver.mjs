// Node-only check of web/solver.mjs: solves Robertson with the compiled WebAssembly module
// (no browser) and compares the state at t = 1e5 with sci's native solution.
//
//   node web/test/solver.mjs [MODELS_DIR] [EXPECTED.json]
//
// MODELS_DIR holds robertson.{wasm,mjs} (default web/models). EXPECTED.json is the file
// web/test/browser.mjs reads (tests/web_demo.rs writes it from `sci run`); without it, the
// native values at the default parameters (`sci run --rtol 1e-10 --atol 1e-14`) are used.
// Exit 1 on a mismatch. Separating this from the browser test says which half broke.
import { resolve } from "node:path";
import { readFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
import { solve } from "../solver.mjs";
import { compareStates } from "./compare.mjs";

const here = new URL(".", import.meta.url);
const modelsDir = resolve(process.argv[2] ?? new URL("../models", here).pathname);
const expected = process.argv[3]
  ? JSON.parse(await readFile(process.argv[3], "utf8"))
  : {
      rtol: 1e-5,
      atol: 1e-9,
      default: { final: [0.017865921182004474, 7.274751484976121e-8, 0.9821340060704705] },
    };

const { load } = await import(pathToFileURL(resolve(modelsDir, "robertson.mjs")).href);
const m = (await load()).Robertson;

const cases = [["default", m.paramsDefault, expected.default]];
if (expected.moved) {
  const theta = Float64Array.from(m.paramsDefault);
  const slot = m.layout.params.slots.find((s) => s.name === expected.moved.param);
  theta[slot.offset] = expected.moved.value;
  cases.push([`${expected.moved.param} = ${expected.moved.value}`, theta, expected.moved]);
}

let failed = false;
for (const [label, theta, want] of cases) {
  const start = performance.now();
  const sol = solve((t, y) => m.rhs(t, y, theta), (t, y) => m.jacobian(t, y, theta), m.y0(theta), 0, 1e5,
    { rtol: 1e-6, atol: 1e-10 });
  const ms = performance.now() - start;
  const got = Array.from(sol.y[sol.y.length - 1]);
  const problems = compareStates(got, want.final, expected.rtol, expected.atol);
  const s = sol.stats;
  console.log(`robertson (${label}): ${s.steps} steps (${s.rejected} rejected), ${s.rhs} rhs, ` +
    `${s.jacobians} Jacobians, ${ms.toFixed(1)} ms in Node; y(1e5) = [${got.map((x) => x.toExponential(9)).join(", ")}]`);
  for (const p of problems) console.error(`  MISMATCH ${p}`);
  failed ||= problems.length > 0;
}
process.exit(failed ? 1 : 0);
