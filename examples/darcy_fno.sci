// A Fourier neural operator for 2-D Darcy flow (Li et al., ICLR 2021): it learns the map
// from a piecewise-constant permeability a(x, y) ∈ {3, 12} to the pressure u(x, y) of
//
//   −∇·(a ∇u) = 1 on the unit square,  u = 0 on its boundary,
//
// on an 85 × 85 grid, from pairs that `sci dataset darcy` draws (Gaussian random fields
// thresholded, solved by a sparse Cholesky on 421 × 421 nodes). The last 200 of the 1200
// pairs are held out: `sci train` reports the relative L2 error on them after every epoch.
// The coefficient enters centred and scaled to ±1 (Li et al. normalise it pointwise).
use nn.{fno}

model DarcyFNO {
    const s = 85

    data darcy(a: real[s, s], u: real[s, s]) = npy("data/darcy_a.npy", "data/darcy_u.npy", test: 200)

    net G(a) = fno(modes: 12, width: 32, layers: 4)

    loss = mean(norm(G((darcy.a - 7.5) / 4.5) - darcy.u) / norm(darcy.u))
}
