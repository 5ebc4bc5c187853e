// A Fourier neural operator for the 1-D viscous Burgers equation (Li et al., ICLR 2021):
// it learns the map from an initial condition u0(x) to the solution u(x, 1) of
//
//   u_t + (u²/2)_x = ν u_xx,  x ∈ [0, 1) periodic,  ν = 0.1,
//
// from pairs that `sci dataset burgers` draws (Gaussian random fields, solved by sci's
// BDF). The last 200 of the 1200 pairs are held out: `sci train` reports the relative L2
// error on them after every epoch. The operator's weights do not depend on the grid, so a
// trained one evaluates on a finer grid (`--param s=512`, README).
use nn.{fno}

model BurgersFNO {
    const s = 256

    data burgers(a: real[s], u: real[s]) = npy("data/burgers_a.npy", "data/burgers_u.npy", test: 200)

    net G(a) = fno(modes: 16, width: 64, layers: 4)

    loss = mean(norm(G(burgers.a) - burgers.u) / norm(burgers.u))
}
