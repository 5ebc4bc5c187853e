// Repeated intravenous doses of a drug eliminated with first-order kinetics: the amount in
// the body decays as A' = -k·A, and every 12 hours a dose D is injected. Times are in hours.
//
// Between doses the amount decays exponentially; just after the n-th dose it is
// D·(1 − r^n)/(1 − r) with r = exp(−k·12), approaching the steady-state peak D/(1 − r)
// (tests/events.rs checks the solution against this to 1e-8).
model Dosing {
    const dose = 100.0     // mg per injection
    const interval = 12.0  // hours between injections
    param k = 0.1          // elimination rate, 1/hour
    param volume = 20.0    // volume of distribution, litres

    state A = 0.0  // amount of drug in the body, mg

    der(A) = -k * A

    // A dose at t = 0, 12, 24, …
    when every(interval) { reinit(A, A + dose) }

    output concentration = A / volume  // mg/L

    domain time: t in [0, 120]
}
