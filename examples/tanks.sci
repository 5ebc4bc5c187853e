// Components: two tanks in series, each an instance of the same model. The upper tank is
// fed at a constant rate; the lower one is fed by the upper one's outflow — a connection
// written as a binding of the lower tank's parameter to the upper tank's quantity.
//
// Each tank drains through an outlet, q = c·√h (Torricelli), so both settle where their
// outflow matches the feed: h = (feed / c)² = 0.25 m.

// One tank; also a model of its own (`sci run examples/tanks.sci --model Tank`).
model Tank {
    param area: m^2 = 1.0          // cross-section
    param outlet: m^(5/2)/s = 0.1  // the outlet's coefficient c
    param inflow: m^3/s = 0.0      // what flows in (bound by the model using it)

    state h: m = 1.0  // water level

    let outflow: m^3/s = outlet * sqrt(h)

    der(h) = (inflow - outflow) / area

    domain time: t in [0, 100]
}

model TwoTanks {
    param feed: m^3/s = 0.05

    component upper = Tank(area: 2.0, inflow: feed)
    component lower = Tank(inflow: upper.outflow)

    output difference: m = upper.h - lower.h

    domain time: t in [0, 300]
}
