// A universal differential equation: Lotka–Volterra with the interaction terms
// replaced by a neural network, fitted to observations (Rackauckas et al. 2020).
//
// The known linear terms stay; h(prey, pred) learns the rest. The loss compares the
// solution at the observation times with the data.
use nn.{mlp}

model LotkaVolterraUDE {
    param alpha = 1.3
    param gamma = 0.8

    net h(prey, pred) = mlp(hidden: [16, 16], activation: tanh, outputs: 2, seed: 42)

    state prey = 0.44
    state pred = 4.6

    der(prey) = alpha * prey + h(prey, pred)[0]
    der(pred) = -gamma * pred + h(prey, pred)[1]

    data obs(t, prey, pred) = csv("data/lv_obs.csv")

    loss = mean((prey(obs.t) - obs.prey)^2 + (pred(obs.t) - obs.pred)^2)

    domain time: t in [0, 5]  // the span of the observations
}
