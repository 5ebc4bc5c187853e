// Robertson's chemical kinetics (1966): the classic stiff test problem.
//
// Three species with rate constants spanning nine orders of magnitude; the Jacobian's
// eigenvalues range from about -1e4 to 0, so explicit methods crawl. Reference values at
// t = 40 and t = 1e5 are published in Hairer & Wanner, "Solving ODEs II".
model Robertson {
    param k1 = 0.04
    param k2 = 3.0e7
    param k3 = 1.0e4

    state y1 = 1.0
    state y2 = 0.0
    state y3 = 0.0

    der(y1) = -k1 * y1 + k3 * y2 * y3
    der(y2) = k1 * y1 - k3 * y2 * y3 - k2 * y2^2
    der(y3) = k2 * y2^2

    // Mass is conserved: y1 + y2 + y3 = 1 for all t.
    output mass = y1 + y2 + y3

    domain time: t in [0, 1e5]  // the span `sci run` integrates over
}
