//! Test systems shared by the ODE test files: classic problems with hand-written
//! derivatives.
// Each test file uses a part of this module.
#![allow(dead_code)]

use sci_stdlib::ode::OdeSystem;

/// Robertson's chemical kinetics, θ = (k1, k2, k3):
/// y1' = −k1 y1 + k3 y2 y3, y2' = k1 y1 − k3 y2 y3 − k2 y2², y3' = k2 y2²; y0 = (1, 0, 0).
pub struct Robertson;

pub const ROBERTSON_K: [f64; 3] = [0.04, 3e7, 1e4];

impl OdeSystem for Robertson {
    fn n_states(&self) -> usize {
        3
    }
    fn n_params(&self) -> usize {
        3
    }
    fn rhs(&self, _t: f64, y: &[f64], p: &[f64], dy: &mut [f64]) {
        let (k1, k2, k3) = (p[0], p[1], p[2]);
        dy[0] = -k1 * y[0] + k3 * y[1] * y[2];
        dy[1] = k1 * y[0] - k3 * y[1] * y[2] - k2 * y[1] * y[1];
        dy[2] = k2 * y[1] * y[1];
    }
    fn jac_mul(&self, _t: f64, y: &[f64], p: &[f64], v: &[f64], out: &mut [f64]) {
        let (k1, k2, k3) = (p[0], p[1], p[2]);
        out[0] = -k1 * v[0] + k3 * y[2] * v[1] + k3 * y[1] * v[2];
        out[1] = k1 * v[0] - (k3 * y[2] + 2.0 * k2 * y[1]) * v[1] - k3 * y[1] * v[2];
        out[2] = 2.0 * k2 * y[1] * v[1];
    }
    fn param_jac_mul(&self, _t: f64, y: &[f64], _p: &[f64], v: &[f64], out: &mut [f64]) {
        let yy = y[1] * y[1];
        let yz = y[1] * y[2];
        out[0] = -y[0] * v[0] + yz * v[2];
        out[1] = y[0] * v[0] - yy * v[1] - yz * v[2];
        out[2] = yy * v[1];
    }
    fn y0(&self, _p: &[f64], y0: &mut [f64]) {
        y0.copy_from_slice(&[1.0, 0.0, 0.0]);
    }
    fn y0_param_jac_mul(&self, _p: &[f64], _v: &[f64], out: &mut [f64]) {
        out.fill(0.0);
    }
}

/// Lotka–Volterra, θ = (α, β, γ, δ, x0, y0): x' = αx − βxy, y' = δxy − γy, with the initial
/// populations as parameters too (so `y0_param_jac_mul` is exercised).
pub struct LotkaVolterra;

pub const LV_THETA: [f64; 6] = [1.5, 1.0, 3.0, 1.0, 10.0, 5.0];

impl OdeSystem for LotkaVolterra {
    fn n_states(&self) -> usize {
        2
    }
    fn n_params(&self) -> usize {
        6
    }
    fn rhs(&self, _t: f64, y: &[f64], p: &[f64], dy: &mut [f64]) {
        dy[0] = p[0] * y[0] - p[1] * y[0] * y[1];
        dy[1] = p[3] * y[0] * y[1] - p[2] * y[1];
    }
    fn jac_mul(&self, _t: f64, y: &[f64], p: &[f64], v: &[f64], out: &mut [f64]) {
        out[0] = (p[0] - p[1] * y[1]) * v[0] - p[1] * y[0] * v[1];
        out[1] = p[3] * y[1] * v[0] + (p[3] * y[0] - p[2]) * v[1];
    }
    fn param_jac_mul(&self, _t: f64, y: &[f64], _p: &[f64], v: &[f64], out: &mut [f64]) {
        out[0] = y[0] * v[0] - y[0] * y[1] * v[1];
        out[1] = y[0] * y[1] * v[3] - y[1] * v[2];
    }
    fn y0(&self, p: &[f64], y0: &mut [f64]) {
        y0.copy_from_slice(&p[4..6]);
    }
    fn y0_param_jac_mul(&self, _p: &[f64], v: &[f64], out: &mut [f64]) {
        out.copy_from_slice(&v[4..6]);
    }
}
