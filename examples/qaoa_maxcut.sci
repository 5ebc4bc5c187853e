// QAOA for MaxCut (Farhi, Goldstone & Gutmann 2014) on a 3-regular graph of 6 vertices:
// the ring 0–1–…–5–0 with its three long diagonals. Cutting an edge (i, j) scores
// (1 − Z_i Z_j) / 2, so the observable `cut` counts the cut edges of a bitstring; this
// graph is bipartite, so the best cut (even vertices against odd ones) cuts all 9 edges.
//
// p layers alternate the cost evolution exp(−iγ_l · cut) (one RZZ per edge; RZZ(2γ) is
// exp(−iγ Z_i Z_j), the cut's phase up to a global factor) and the mixer exp(−iβ_l Σ X).
// Training maximises the expected cut ⟨ψ(γ, β)|cut|ψ(γ, β)⟩ (the loss is its negative).
model QaoaMaxCut {
    const n = 6
    const m = 9
    const edges = [[0, 1], [1, 2], [2, 3], [3, 4], [4, 5], [5, 0], [0, 3], [1, 4], [2, 5]]
    const p = 3
    // A linear ramp, as in an annealing schedule: γ grows and β shrinks.
    param gamma[l in 0..p] = 0.1 * (l + 1) / p
    param beta[l in 0..p] = 0.1 * (p - l) / p

    circuit psi(qubits: n) {
        for q in 0..n { h(q) }
        for l in 0..p {
            for e in 0..m { rzz(-2 * gamma[l], edges[e, 0], edges[e, 1]) }
            for q in 0..n { rx(2 * beta[l], q) }
        }
    }

    observable cut = sum(e in 0..m: 0.5 * (I() - Z(edges[e, 0]) * Z(edges[e, 1])))

    loss = -expval(psi, cut)
}
