//! Training data for neural operators: random input functions and the solvers that map them
//! to solutions, for the benchmark problems of Li et al., "Fourier neural operator for
//! parametric partial differential equations" (ICLR 2021).
//!
//! - [`random_fields`]: Gaussian random fields with covariance `σ²(−Δ + τ²I)^(−γ)`,
//!   drawn reproducibly from a seed: periodic fields on the unit interval by an inverse real
//!   FFT (Burgers' initial conditions), fields with zero Neumann conditions on the unit
//!   square as cosine series (Darcy's permeability);
//! - [`darcy`]: the steady Darcy flow `−∇·(a∇u) = f` on the unit square with `u = 0` on the
//!   boundary, a five-point finite-volume scheme solved by a sparse Cholesky factorisation
//!   whose symbolic part is shared by every sample;
//! - [`npy_bytes`]: an array of any shape as a float64 `.npy` file, for data sets of
//!   `[samples, grid]` and `[samples, grid, grid]` arrays.
//!
//! Burgers' equation itself is not solved here: `sci dataset burgers` writes it as a sci
//! model and solves it with the compiled right-hand side and [`crate::ode`], so this crate
//! only provides its initial conditions.
//!
//! Every sample is a function of `(seed, sample index)` alone ([`random_fields::SampleRng`]),
//! so samples can be drawn on any number of threads, in any order, with the same result.

pub mod darcy;
pub mod random_fields;

use npyz::WriterBuilder;

use crate::Error;

/// `values` (row-major, of `shape`) as the bytes of a float64 `.npy` file in C order.
pub fn npy_bytes(shape: &[usize], values: &[f64]) -> Result<Vec<u8>, Error> {
    let count = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    if count != Some(values.len()) {
        return Err(Error::input(format!(
            "Cannot encode an array of shape {shape:?} from {} values.",
            values.len()
        )));
    }
    let fail = |e: std::io::Error| Error::io(format!("Could not encode an NPY array: {e}."));
    let dims: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    let mut out = Vec::with_capacity(128 + 8 * values.len());
    let mut writer = npyz::WriteOptions::<f64>::new()
        .default_dtype()
        .shape(&dims)
        .writer(&mut out)
        .begin_nd()
        .map_err(fail)?;
    writer.extend(values.iter().copied()).map_err(fail)?;
    writer.finish().map_err(fail)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_arrays_keep_their_shape_and_values() {
        let values: Vec<f64> = (0..24).map(f64::from).collect();
        let bytes = npy_bytes(&[2, 3, 4], &values).unwrap();
        let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
        assert_eq!(npy.shape(), &[2, 3, 4]);
        assert_eq!(npy.order(), npyz::Order::C);
        assert_eq!(npy.into_vec::<f64>().unwrap(), values);
        assert!(npy_bytes(&[2, 3], &values).is_err());
    }
}
