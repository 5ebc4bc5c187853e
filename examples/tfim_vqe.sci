// Variational quantum eigensolver for the transverse-field Ising model on a ring of n spins
// at its critical point (J = h = 1):
//
//   H = −J Σ Z_i Z_{i+1} − h Σ X_i        (periodic: spin n is spin 0)
//
// The Hamiltonian variational ansatz (Wiersema et al., PRX Quantum 2020) starts in |+…+⟩,
// the ground state of the field term, and alternates the two terms' evolutions, one angle
// per term and layer; n/2 layers reach the exact ground energy E₀ = −2 / sin(π / 2n)
// (−10.2516… for n = 8). `sci train` minimises ⟨ψ(θ)|H|ψ(θ)⟩ by L-BFGS with adjoint
// gradients (two state vectors, whatever the number of parameters), then prints the
// outputs at the trained θ; `sci run` prints them at the declared θ (`--params-file` a
// checkpoint's), and `--shots N --seed S` measures the circuit N times.
model TfimVqe {
    const n = 8
    const layers = n / 2
    const J = 1.0
    const h = 1.0
    // [γ_0, β_0, γ_1, β_1, …]: small, unequal starting angles (θ = 0 is a saddle point).
    param theta[k in 0..2 * layers] = 0.05 * sin(1.7 * k + 0.3)

    circuit psi(qubits: n) {
        for q in 0..n { h(q) }
        for l in 0..layers {
            for i in 0..n { rzz(theta[2 * l], i, mod(i + 1, n)) }  // exp(−iγ Z_i Z_{i+1} / 2)
            for q in 0..n { rx(theta[2 * l + 1], q) }              // exp(−iβ X_q / 2)
        }
    }

    observable H = -J * sum(i in 0..n: Z(i) * Z(mod(i + 1, n))) - h * sum(i in 0..n: X(i))
    // The nearest-neighbour correlation ⟨Z_i Z_{i+1}⟩, averaged over the ring.
    observable ZZ = sum(i in 0..n: Z(i) * Z(mod(i + 1, n))) / n

    loss = expval(psi, H)

    output energy = expval(psi, H)
    output correlation = expval(psi, ZZ)
}
