// A small stiff ODE solver in plain JavaScript, for the demo page and its Node check.
//
// RODAS4 (Hairer & Wanner, "Solving ODEs II", §IV.7; the coefficients of their rodas.f):
// a 6-stage Rosenbrock method of order 4 with an embedded order-3 solution, L-stable and
// stiffly accurate, so Robertson's kinetics (eigenvalues down to -1e4) take large steps.
// Rosenbrock methods need no Newton iteration, only one LU factorisation of
// I/(γh) − J per step, with the analytic Jacobian the compiled module provides; a step is
// 6 linear solves with that factorisation:
//
//   (I/(γh) − J) k_i = f(t + α_i h, y + Σ_j a_ij k_j) + Σ_j (c_ij/h) k_j + γ_i h ∂f/∂t
//   y_new = y + Σ_j a_6j k_j + k_6,   error estimate = k_6
//
// The models' systems are small (a few states), so the matrix is dense and factored by
// Gaussian elimination with partial pivoting. The solver knows nothing of sci: it takes
// f(t, y) and J(t, y) as functions answering arrays.

const GAMMA = 0.25;
const ALPHA = [0, 0.386, 0.21, 0.63, 1, 1];
const GAMMA_I = [0.25, -0.1043, 0.1035, -0.3620000000000023e-1, 0, 0];
// Strictly lower-triangular rows: A[i][j], C[i][j] for j < i.
const A = [
  [],
  [1.544],
  [0.9466785280815826, 0.2557011698983284],
  [3.314825187068521, 2.896124015972201, 0.9986419139977817],
  [1.221224509226641, 6.019134481288629, 12.53708332932087, -0.687886036105895],
  [1.221224509226641, 6.019134481288629, 12.53708332932087, -0.687886036105895, 1],
];
const C = [
  [],
  [-5.6688],
  [-2.430093356833875, -0.2063599157091915],
  [-0.1073529058151375, -9.594562251023355, -20.47028614809616],
  [7.496443313967647, -10.24680431464352, -33.99990352819905, 11.7089089320616],
  [8.083246795921522, -7.981132988064893, -31.52159432874371, 16.31930543123136, -6.058818238834054],
];
const STAGES = 6;

/** Factors the n×n row-major matrix `a` in place (LU, partial pivoting); false if singular. */
export function luFactor(a, n, pivots) {
  for (let k = 0; k < n; k++) {
    let p = k;
    let best = Math.abs(a[k * n + k]);
    for (let i = k + 1; i < n; i++) {
      const v = Math.abs(a[i * n + k]);
      if (v > best) { best = v; p = i; }
    }
    pivots[k] = p;
    if (best === 0 || !Number.isFinite(best)) return false;
    if (p !== k) {
      for (let j = 0; j < n; j++) {
        const t = a[k * n + j]; a[k * n + j] = a[p * n + j]; a[p * n + j] = t;
      }
    }
    const d = a[k * n + k];
    for (let i = k + 1; i < n; i++) {
      const l = (a[i * n + k] /= d);
      if (l !== 0) for (let j = k + 1; j < n; j++) a[i * n + j] -= l * a[k * n + j];
    }
  }
  return true;
}

/** Solves LU x = b in place in `b`, with `a` and `pivots` from luFactor. */
export function luSolve(a, n, pivots, b) {
  for (let k = 0; k < n; k++) {
    const p = pivots[k];
    if (p !== k) { const t = b[k]; b[k] = b[p]; b[p] = t; }
    for (let i = k + 1; i < n; i++) b[i] -= a[i * n + k] * b[k];
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = b[i];
    for (let j = i + 1; j < n; j++) s -= a[i * n + j] * b[j];
    b[i] = s / a[i * n + i];
  }
}

/**
 * Integrates y' = f(t, y) from t0 to t1 with RODAS4.
 * f(t, y) and jac(t, y) answer arrays (jac row-major n×n, ∂f/∂y).
 * Options: rtol (1e-6), atol (1e-10), hmax (|t1 − t0|), h0 (estimated), maxSteps (100000).
 * Answers { t: [...], y: [Float64Array...] } at every accepted step (t0 included) and stats.
 */
export function solve(f, jac, y0, t0, t1, options = {}) {
  const rtol = options.rtol ?? 1e-6;
  const atol = options.atol ?? 1e-10;
  const hmax = options.hmax ?? Math.abs(t1 - t0);
  const maxSteps = options.maxSteps ?? 100000;
  const n = y0.length;
  const stats = { steps: 0, rejected: 0, rhs: 0, jacobians: 0 };
  const rhs = (t, y) => { stats.rhs++; return f(t, y); };

  let t = t0;
  let y = Float64Array.from(y0);
  const ts = [t];
  const ys = [Float64Array.from(y)];
  const k = Array.from({ length: STAGES }, () => new Float64Array(n));
  const m = new Float64Array(n * n);
  const pivots = new Int32Array(n);
  const yStage = new Float64Array(n);
  const yNew = new Float64Array(n);
  const dfdt = new Float64Array(n);

  let f0 = rhs(t, y);
  let h = Math.min(options.h0 ?? initialStep(y, f0, rtol, atol, Math.abs(t1 - t0)), hmax);
  let rejectedLast = false;
  let rejectedTwice = false;

  while (t < t1) {
    if (stats.steps >= maxSteps) throw new Error(`solver: more than ${maxSteps} steps before t = ${t1} (at t = ${t})`);
    if (t + h === t || h <= 0) throw new Error(`solver: step size ${h} too small at t = ${t}`);
    let last = t + 1.01 * h >= t1;
    if (last) h = t1 - t;

    // ∂f/∂t by a forward difference: the models may depend on time (forcing, schedules).
    const delta = Math.sqrt(Number.EPSILON) * Math.max(1e-5, Math.abs(t));
    const ft = rhs(t + delta, y);
    for (let i = 0; i < n; i++) dfdt[i] = (ft[i] - f0[i]) / delta;
    const j = jac(t, y);
    stats.jacobians++;

    for (;;) {
      stats.steps++;
      const ok = step(h);
      let err = ok ? errorNorm(y, yNew, k[STAGES - 1], rtol, atol) : Infinity;
      if (!Number.isFinite(err)) err = Infinity;
      if (err <= 1) {
        t = last ? t1 : t + h;
        y.set(yNew);
        ts.push(t);
        ys.push(Float64Array.from(y));
        f0 = rhs(t, y);
        let grow = Math.min(6, Math.max(0.2, 0.9 * err ** -0.25));
        if (rejectedLast) grow = Math.min(grow, 1);
        h = Math.min(h * grow, hmax);
        rejectedLast = rejectedTwice = false;
        break;
      }
      stats.rejected++;
      last = false;
      h *= rejectedTwice || err === Infinity ? 0.1 : Math.max(0.2, 0.9 * err ** -0.25);
      rejectedTwice = rejectedLast;
      rejectedLast = true;
      if (t + h === t) throw new Error(`solver: step size ${h} too small at t = ${t}`);
    }

    // One RODAS4 step of size h from (t, y) with Jacobian j: fills k and yNew.
    function step(h) {
      const g = 1 / (GAMMA * h);
      for (let i = 0; i < n * n; i++) m[i] = -j[i];
      for (let i = 0; i < n; i++) m[i * n + i] += g;
      if (!luFactor(m, n, pivots)) return false;
      for (let s = 0; s < STAGES; s++) {
        let fs = f0;
        if (s > 0) {
          yStage.set(y);
          for (let q = 0; q < s; q++) {
            const a = A[s][q];
            for (let i = 0; i < n; i++) yStage[i] += a * k[q][i];
          }
          fs = rhs(t + ALPHA[s] * h, yStage);
        }
        const ks = k[s];
        for (let i = 0; i < n; i++) ks[i] = fs[i] + GAMMA_I[s] * h * dfdt[i];
        for (let q = 0; q < s; q++) {
          const c = C[s][q] / h;
          for (let i = 0; i < n; i++) ks[i] += c * k[q][i];
        }
        luSolve(m, n, pivots, ks);
        for (let i = 0; i < n; i++) if (!Number.isFinite(ks[i])) return false;
      }
      // Stiffly accurate: the solution is the last stage's point plus k_6.
      for (let i = 0; i < n; i++) yNew[i] = yStage[i] + k[STAGES - 1][i];
      return true;
    }
  }
  return { t: ts, y: ys, stats };
}

/** The root-mean-square of err scaled by atol + rtol·max(|y|, |yNew|). */
function errorNorm(y, yNew, err, rtol, atol) {
  let sum = 0;
  for (let i = 0; i < y.length; i++) {
    const scale = atol + rtol * Math.max(Math.abs(y[i]), Math.abs(yNew[i]));
    sum += (err[i] / scale) ** 2;
  }
  return Math.sqrt(sum / y.length);
}

/** A first step that changes y by about 1% of its tolerance-scaled size (Hairer's rule). */
function initialStep(y, f0, rtol, atol, span) {
  let d0 = 0;
  let d1 = 0;
  for (let i = 0; i < y.length; i++) {
    const scale = atol + rtol * Math.abs(y[i]);
    d0 += (y[i] / scale) ** 2;
    d1 += (f0[i] / scale) ** 2;
  }
  const h = d0 < 1e-10 || d1 < 1e-10 ? 1e-6 : 0.01 * Math.sqrt(d0 / d1);
  return Math.min(h, span);
}
