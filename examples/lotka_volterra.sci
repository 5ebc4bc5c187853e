// Lotka–Volterra predator–prey dynamics: a small non-stiff ODE model.
//
//   d(prey)/dt = α·prey − β·prey·pred
//   d(pred)/dt = δ·prey·pred − γ·pred
//
// The quantity V = δ·prey − γ·ln(prey) + β·pred − α·ln(pred) is conserved along
// trajectories; `sci run` can record it as an output to check a solver.
model LotkaVolterra {
    param alpha = 1.5  // prey birth rate
    param beta = 1.0   // predation rate
    param gamma = 3.0  // predator death rate
    param delta = 1.0  // predator growth per prey eaten

    state prey = 10.0
    state pred = 5.0

    der(prey) = alpha * prey - beta * prey * pred
    der(pred) = delta * prey * pred - gamma * pred

    output total = prey + pred
    output invariant = delta * prey - gamma * log(prey) + beta * pred - alpha * log(pred)

    domain time: t in [0, 15]  // the span `sci run` integrates over
}
