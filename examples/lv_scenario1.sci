// The Lotka–Volterra experiment of Rackauckas et al. 2020 ("Universal Differential
// Equations for Scientific Machine Learning", scenario 1): the known linear terms stay,
// a small network U learns the rest from 31 noisy samples, and `sci discover` turns U
// back into equations.
//
//   x' = α x + U(x, y)[0]     (the truth: − β x y, β = 0.9)
//   y' = −δ y + U(x, y)[1]    (the truth: + γ x y, γ = 0.8)
//
// The data: the true system (α, β, γ, δ = 1.3, 0.9, 0.8, 1.8) from u₀ = (0.44249296,
// 4.6280594), saved every 0.1 on t ∈ [0, 3], plus Gaussian noise of 5 % of each state's
// mean (seed 1; `bench/ude_discovery.py` writes it, and repeats the whole experiment for
// 20 seeds). The network is the paper's, 2 → 5 → 5 → 5 → 2 with the Gaussian RBF
// exp(−x²) as the activation, and so is the schedule, Adam then L-BFGS:
//
//   sci train examples/lv_scenario1.sci --optimizer adam+lbfgs --adam-steps 200 --lr 0.1 \
//       --steps 3000 --out lv1.json
//   sci discover examples/lv_scenario1.sci --params-file lv1.json --degree 5 \
//       --functions sin --out lv1_found.sci
use nn.{mlp}

model LotkaVolterraScenario1 {
    param alpha = 1.3 fixed
    param delta = 1.8 fixed

    net U(x, y) = mlp(hidden: [5, 5, 5], activation: rbf, outputs: 2, seed: 1)

    state x = 0.44249296
    state y = 4.6280594

    der(x) = alpha * x + U(x, y)[0]
    der(y) = -delta * y + U(x, y)[1]

    data obs(t, x, y) = csv("data/lv_scenario1.csv")

    loss = mean((x(obs.t) - obs.x)^2 + (y(obs.t) - obs.y)^2)

    domain time: t in [0, 3]
}
