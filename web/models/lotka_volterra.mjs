// The loader of a WebAssembly module that sci compiled from `lotka_volterra.sci`
// (`sci compile lotka_volterra.sci --target wasm32 -o lotka_volterra.wasm`). Generated: do not edit.
//
// Node >= 18 or any current browser:
//
//   import { load } from "./lotka_volterra.mjs";
//   const sci = await load();                 // lotka_volterra.wasm beside this file (or a URL,
//                                              // a path, bytes, a WebAssembly.Module)
//   const m = sci.LotkaVolterra;
//   m.rhs(t, y, m.paramsDefault);               // one wrapper per compiled function
//
// A wrapper takes one argument per input: a number for a scalar, an array (or typed array)
// of the input's elements, row-major, for a tensor, all points one after another for a
// batched input. It answers a number for a scalar result, else a fresh Float64Array, and
// throws a SciError for a non-zero status. Inputs are copied into the module's memory and
// freed after each call. The ABI is docs/abi.md's over linear memory (docs/deploy.md).

const DESCRIPTION = {
  "format": "sci-abi-1",
  "modules": [
    {
      "functions": [
        {
          "inputs": [
            {
              "batched": false,
              "dtype": "f64",
              "name": "t",
              "shape": [],
              "size": 1
            },
            {
              "batched": false,
              "dtype": "f64",
              "name": "y",
              "shape": [
                2
              ],
              "size": 2
            },
            {
              "batched": false,
              "dtype": "f64",
              "name": "θ",
              "shape": [
                4
              ],
              "size": 4
            }
          ],
          "name": "rhs",
          "result": {
            "batched": false,
            "dtype": "f64",
            "points_of": null,
            "shape": [
              2
            ],
            "size": 2
          },
          "symbol": "sci_LotkaVolterra_rhs",
          "unavailable": null
        },
        {
          "inputs": [
            {
              "batched": false,
              "dtype": "f64",
              "name": "θ",
              "shape": [
                4
              ],
              "size": 4
            }
          ],
          "name": "y0",
          "result": {
            "batched": false,
            "dtype": "f64",
            "points_of": null,
            "shape": [
              2
            ],
            "size": 2
          },
          "symbol": "sci_LotkaVolterra_y0",
          "unavailable": null
        },
        {
          "inputs": [
            {
              "batched": false,
              "dtype": "f64",
              "name": "t",
              "shape": [],
              "size": 1
            },
            {
              "batched": false,
              "dtype": "f64",
              "name": "y",
              "shape": [
                2
              ],
              "size": 2
            },
            {
              "batched": false,
              "dtype": "f64",
              "name": "θ",
              "shape": [
                4
              ],
              "size": 4
            }
          ],
          "name": "outputs",
          "result": {
            "batched": false,
            "dtype": "f64",
            "points_of": null,
            "shape": [
              2
            ],
            "size": 2
          },
          "symbol": "sci_LotkaVolterra_outputs",
          "unavailable": null
        },
        {
          "inputs": [
            {
              "batched": false,
              "dtype": "f64",
              "name": "t",
              "shape": [],
              "size": 1
            },
            {
              "batched": false,
              "dtype": "f64",
              "name": "y",
              "shape": [
                2
              ],
              "size": 2
            },
            {
              "batched": false,
              "dtype": "f64",
              "name": "θ",
              "shape": [
                4
              ],
              "size": 4
            }
          ],
          "name": "jacobian.rhs",
          "result": {
            "batched": false,
            "dtype": "f64",
            "points_of": null,
            "shape": [
              2,
              2
            ],
            "size": 4
          },
          "symbol": "sci_LotkaVolterra_jacobian_rhs",
          "unavailable": null
        }
      ],
      "name": "LotkaVolterra",
      "outputs": {
        "len": 2,
        "slots": [
          {
            "default": [],
            "fixed": false,
            "name": "total",
            "offset": 0,
            "shape": [],
            "size": 1,
            "unit": null
          },
          {
            "default": [],
            "fixed": false,
            "name": "invariant",
            "offset": 1,
            "shape": [],
            "size": 1,
            "unit": null
          }
        ]
      },
      "params": {
        "len": 4,
        "slots": [
          {
            "default": [
              1.5
            ],
            "fixed": false,
            "name": "alpha",
            "offset": 0,
            "shape": [],
            "size": 1,
            "unit": null
          },
          {
            "default": [
              1.0
            ],
            "fixed": false,
            "name": "beta",
            "offset": 1,
            "shape": [],
            "size": 1,
            "unit": null
          },
          {
            "default": [
              3.0
            ],
            "fixed": false,
            "name": "gamma",
            "offset": 2,
            "shape": [],
            "size": 1,
            "unit": null
          },
          {
            "default": [
              1.0
            ],
            "fixed": false,
            "name": "delta",
            "offset": 3,
            "shape": [],
            "size": 1,
            "unit": null
          }
        ]
      },
      "states": {
        "len": 2,
        "slots": [
          {
            "default": [],
            "fixed": false,
            "name": "prey",
            "offset": 0,
            "shape": [],
            "size": 1,
            "unit": null
          },
          {
            "default": [],
            "fixed": false,
            "name": "pred",
            "offset": 1,
            "shape": [],
            "size": 1,
            "unit": null
          }
        ]
      }
    }
  ],
  "source": "lotka_volterra.sci",
  "statuses": [
    {
      "code": 0,
      "message": "The call succeeded.",
      "name": "SCI_OK"
    },
    {
      "code": 1,
      "message": "An index was out of range and the `index` has no fill value.",
      "name": "SCI_INDEX_OUT_OF_RANGE"
    },
    {
      "code": 2,
      "message": "A `map` read batched inputs with different numbers of points; batch size mismatch.",
      "name": "SCI_BATCH_MISMATCH"
    },
    {
      "code": 3,
      "message": "`reduce_batch max`, `min` or `mean` of an empty batch has no value.",
      "name": "SCI_EMPTY_BATCH"
    },
    {
      "code": 4,
      "message": "A work buffer could not be allocated (out of memory).",
      "name": "SCI_OUT_OF_MEMORY"
    }
  ]
};

const WASM_FILE = "lotka_volterra.wasm";

/** A call that returned a non-zero status (docs/abi.md). */
export class SciError extends Error {
  constructor(functionName, status) {
    const known = DESCRIPTION.statuses.find((s) => s.code === status);
    super(`\`${functionName}\` failed: ${known ? known.message : `unknown status ${status}`}`);
    this.name = "SciError";
    this.status = status;
    this.statusName = known ? known.name : "SCI_UNKNOWN";
  }
}

/** The description of the module: layouts and signatures (also written as JSON). */
export const description = DESCRIPTION;

/** Compiles and instantiates the module; answers one object per model, by name. */
export async function load(source) {
  const module = await compileFrom(source === undefined ? new URL(WASM_FILE, import.meta.url) : source);
  const instance = await WebAssembly.instantiate(module, {});
  return bind(instance.exports);
}

/** As `load`, from bytes or a compiled module, without awaiting (small modules only in browsers). */
export function loadSync(source) {
  const module = source instanceof WebAssembly.Module ? source : new WebAssembly.Module(source);
  return bind(new WebAssembly.Instance(module, {}).exports);
}

const isNode = typeof process !== "undefined" && process.versions != null && process.versions.node != null;

async function compileFrom(source) {
  if (source instanceof WebAssembly.Module) return source;
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) return WebAssembly.compile(source);
  let url = source;
  if (typeof source === "string") {
    if (isNode && !/^[a-z][a-z0-9+.-]*:/i.test(source)) {
      const { readFile } = await import("node:fs/promises");
      return WebAssembly.compile(await readFile(source));
    }
    url = new URL(source, typeof document !== "undefined" ? document.baseURI : import.meta.url);
  }
  if (url instanceof URL && url.protocol === "file:") {
    const { readFile } = await import("node:fs/promises");
    return WebAssembly.compile(await readFile(url));
  }
  const response = await fetch(url);
  if (!response.ok) throw new Error(`cannot fetch ${url}: ${response.status} ${response.statusText}`);
  return WebAssembly.compile(await response.arrayBuffer());
}

function bind(exports) {
  // A WASI reactor: the C library's constructors, once.
  if (typeof exports._initialize === "function") exports._initialize();
  const sci = { description: DESCRIPTION, exports, memory: exports.memory };
  for (const m of DESCRIPTION.modules) {
    const model = {
      name: m.name,
      layout: { params: m.params, states: m.states, outputs: m.outputs },
      paramsDefault: defaults(m.params),
      functions: {},
    };
    for (const f of m.functions) {
      if (f.symbol === null) continue;
      const call = wrapper(exports, f);
      model.functions[f.name] = call;
      const name = f.name.replace(/[^A-Za-z0-9_$]/g, "_");
      if (!(name in model)) model[name] = call;
    }
    for (const [alias, name] of [["jacobian", "jacobian.rhs"], ["grad", "grad.loss"], ["loss_and_grad", "value_and_grad.loss"]]) {
      if (!(alias in model) && name in model.functions) model[alias] = model.functions[name];
    }
    sci[m.name] = model;
  }
  return sci;
}

function defaults(layout) {
  const values = new Float64Array(layout.len);
  for (const slot of layout.slots) {
    slot.default.forEach((x, k) => { values[slot.offset + k] = Number(x); });
  }
  return values;
}

function wrapper(exports, f) {
  const code = exports[f.symbol];
  const { malloc, free } = exports;
  if (typeof code !== "function") throw new Error(`the module does not export \`${f.symbol}\``);
  const names = f.inputs.map((i) => i.name).join(", ");
  return function (...args) {
    if (args.length !== f.inputs.length) {
      throw new TypeError(`\`${f.name}\` takes ${f.inputs.length} inputs (${names}) but ${args.length} were given`);
    }
    const buffers = [];
    const allocate = (count) => {
      const p = malloc(Math.max(count, 1) * 8);
      if (p === 0) throw new SciError(f.name, 4);
      buffers.push(p);
      return p;
    };
    try {
      const wasmArgs = [];
      const points = [];
      f.inputs.forEach((input, k) => {
        const x = args[k];
        if (!input.batched && input.shape.length === 0) {
          wasmArgs.push(Number(typeof x === "number" ? x : x[0]));
          points.push(1);
          return;
        }
        const values = typeof x === "number" ? [x] : x;
        const n = values.length;
        let p = 1;
        if (input.batched) {
          if (input.size === 0 ? n !== 0 : n % input.size !== 0) {
            throw new RangeError(`\`${f.name}\`: input \`${input.name}\` takes points of ${input.size} numbers; ${n} is not a whole number of them`);
          }
          p = input.size === 0 ? 0 : n / input.size;
        } else if (n !== input.size) {
          throw new RangeError(`\`${f.name}\`: input \`${input.name}\` has ${input.size} elements [${input.shape}], not ${n}`);
        }
        const at = allocate(n);
        new Float64Array(exports.memory.buffer, at, n).set(values);
        wasmArgs.push(at);
        if (input.batched) wasmArgs.push(BigInt(p));
        points.push(p);
      });
      const outPoints = f.result.batched && f.result.points_of !== null ? points[f.result.points_of] : 1;
      const length = f.result.size * outPoints;
      const out = allocate(length);
      const status = code(...wasmArgs, out);
      if (status !== 0) throw new SciError(f.name, status);
      const result = new Float64Array(exports.memory.buffer, out, length).slice();
      return !f.result.batched && f.result.shape.length === 0 ? result[0] : result;
    } finally {
      for (const p of buffers) free(p);
    }
  };
}
