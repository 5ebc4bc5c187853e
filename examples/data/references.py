#!/usr/bin/env python3
"""Exact solutions of the PINN examples on grids, for `sci predict --compare`.

    python3 examples/data/references.py      # writes the three CSV files next to it

- poisson_exact.csv: u = sin(pi x) sin(pi y) on a 41 x 41 grid of [0, 1]^2;
- kovasznay_exact.csv: Kovasznay's (u, v, p) at Re = 20 on a 41 x 41 grid of
  [-0.5, 1] x [-0.5, 1.5] (columns uvp[0], uvp[1], uvp[2], as the network names them);
- burgers_exact.csv: the viscous Burgers solution (nu = 0.01/pi, u(0, x) = -sin(pi x)) by
  the Cole-Hopf transformation, u = -int sin(pi (x - e)) f(x - e) G(e) de / int f(x - e) G(e) de
  with f(y) = exp(-cos(pi y) / (2 pi nu)) and the heat kernel G(e) = exp(-e^2 / (4 nu t)),
  on 26 times x 81 points of [0, 1] x [-1, 1]. The integrands span e^{+-50}, so they are
  summed with their largest exponent factored out (trapezoidal rule, 40,001 nodes on
  |e| <= 1.5: the kernel is below e^-170 beyond); it agrees with 200,001 nodes on |e| <= 3
  to 3e-13.

Pure Python (no NumPy) so that it runs wherever sci's tests do.
"""
import math
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def grid(lo, hi, n):
    return [lo + (hi - lo) * k / (n - 1) for k in range(n)]


def write(name, header, rows):
    with open(os.path.join(HERE, name), "w") as f:
        f.write(",".join(header) + "\n")
        for row in rows:
            f.write(",".join(repr(float(v)) for v in row) + "\n")


def poisson():
    return [
        (x, y, math.sin(math.pi * x) * math.sin(math.pi * y))
        for x in grid(0, 1, 41)
        for y in grid(0, 1, 41)
    ]


def kovasznay():
    re = 20.0
    lam = re / 2 - math.sqrt(re**2 / 4 + 4 * math.pi**2)
    rows = []
    for x in grid(-0.5, 1, 41):
        for y in grid(-0.5, 1.5, 41):
            u = 1 - math.exp(lam * x) * math.cos(2 * math.pi * y)
            v = lam / (2 * math.pi) * math.exp(lam * x) * math.sin(2 * math.pi * y)
            p = (1 - math.exp(2 * lam * x)) / 2
            rows.append((x, y, u, v, p))
    return rows


def burgers(nodes=40001, half_width=1.5):
    nu = 0.01 / math.pi
    eta = grid(-half_width, half_width, nodes)
    rows = []
    for t in grid(0, 1, 26):
        for x in grid(-1, 1, 81):
            if t == 0:
                rows.append((t, x, -math.sin(math.pi * x)))
                continue
            exponents = [
                -math.cos(math.pi * (x - e)) / (2 * math.pi * nu) - e * e / (4 * nu * t)
                for e in eta
            ]
            top = max(exponents)
            num = den = 0.0
            for e, a in zip(eta, exponents):
                w = math.exp(a - top)
                num += w * math.sin(math.pi * (x - e))
                den += w
            rows.append((t, x, -num / den))
    return rows


if __name__ == "__main__":
    write("poisson_exact.csv", ["x", "y", "u"], poisson())
    write("kovasznay_exact.csv", ["x", "y", "uvp[0]", "uvp[1]", "uvp[2]"], kovasznay())
    write("burgers_exact.csv", ["t", "x", "u"], burgers())
