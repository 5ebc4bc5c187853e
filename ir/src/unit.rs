//! Physical units: a scale factor times a product of SI base dimensions.
//!
//! A [`Unit`] is `scale · m^a · kg^b · s^c · A^d · K^e · mol^f · cd^g` with rational exponents
//! (so `sqrt(m^2) = m` and `sqrt(Hz) = s^(-1/2)` are exact). Angles (`rad`, `sr`) are
//! dimensionless, as in SI. Units are metadata in the IR: the front end checks them, the IR
//! keeps them for diagnostics and docs, and back ends ignore them.

use std::fmt;

/// The seven SI base dimensions, in the order used by [`Unit::dims`].
pub const BASE_SYMBOLS: [&str; 7] = ["m", "kg", "s", "A", "K", "mol", "cd"];

/// A small exact fraction `num/den` with `den > 0`, in lowest terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Rational {
    pub num: i32,
    pub den: i32,
}

impl Rational {
    /// The integer `n`.
    pub const fn int(n: i32) -> Rational {
        Rational { num: n, den: 1 }
    }

    /// `num/den` in lowest terms; `None` for a zero denominator or overflow.
    pub fn new(num: i64, den: i64) -> Option<Rational> {
        if den == 0 {
            return None;
        }
        let g = gcd(num.unsigned_abs(), den.unsigned_abs()).max(1) as i64;
        let sign = if den < 0 { -1 } else { 1 };
        let num = i32::try_from(sign * num / g).ok()?;
        let den = i32::try_from(sign * den / g).ok()?;
        Some(Rational { num, den })
    }

    /// True for zero.
    pub fn is_zero(self) -> bool {
        self.num == 0
    }

    /// `self + other`, `None` on overflow.
    // Not `std::ops::Add`: the result is checked (`Option`).
    #[allow(clippy::should_implement_trait)]
    pub fn add(self, other: Rational) -> Option<Rational> {
        Rational::new(
            self.num as i64 * other.den as i64 + other.num as i64 * self.den as i64,
            self.den as i64 * other.den as i64,
        )
    }

    /// `self * other`, `None` on overflow.
    // Not `std::ops::Mul`: the result is checked (`Option`).
    #[allow(clippy::should_implement_trait)]
    pub fn mul(self, other: Rational) -> Option<Rational> {
        Rational::new(
            self.num as i64 * other.num as i64,
            self.den as i64 * other.den as i64,
        )
    }

    /// As a float.
    pub fn to_f64(self) -> f64 {
        self.num as f64 / self.den as f64
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl fmt::Display for Rational {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.den == 1 {
            write!(f, "{}", self.num)
        } else {
            write!(f, "({}/{})", self.num, self.den)
        }
    }
}

/// A physical unit: `scale` times SI base dimensions raised to rational powers.
#[derive(Clone, Copy, Debug)]
pub struct Unit {
    /// Exponents of m, kg, s, A, K, mol, cd.
    pub dims: [Rational; 7],
    /// Factor to the coherent SI unit of the same dimension (`km` has scale 1000).
    pub scale: f64,
}

impl PartialEq for Unit {
    /// Equal dimensions and scales equal to 1e-12 relative (so `1000·g` equals `kg`).
    fn eq(&self, other: &Unit) -> bool {
        self.dims == other.dims && same_scale(self.scale, other.scale)
    }
}

fn same_scale(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

impl Default for Unit {
    fn default() -> Unit {
        Unit::DIMENSIONLESS
    }
}

impl Unit {
    /// The pure number 1.
    pub const DIMENSIONLESS: Unit = Unit {
        dims: [Rational::int(0); 7],
        scale: 1.0,
    };

    /// The coherent SI base unit with index `i` into [`BASE_SYMBOLS`].
    pub fn base(i: usize) -> Unit {
        let mut u = Unit::DIMENSIONLESS;
        if let Some(d) = u.dims.get_mut(i) {
            *d = Rational::int(1);
        }
        u
    }

    /// A unit of the same dimension with the scale multiplied by `factor`.
    pub fn scaled(self, factor: f64) -> Unit {
        Unit {
            scale: self.scale * factor,
            ..self
        }
    }

    /// True if every exponent is zero (the scale may differ from 1, as in `%` or `ppm`).
    pub fn is_dimensionless(&self) -> bool {
        self.dims.iter().all(|d| d.is_zero())
    }

    /// True if both units measure the same dimension, whatever their scales.
    pub fn same_dimension(&self, other: &Unit) -> bool {
        self.dims == other.dims
    }

    /// The product unit; `None` on exponent overflow.
    pub fn mul(&self, other: &Unit) -> Option<Unit> {
        let mut dims = self.dims;
        for (d, o) in dims.iter_mut().zip(other.dims) {
            *d = d.add(o)?;
        }
        Some(Unit {
            dims,
            scale: self.scale * other.scale,
        })
    }

    /// The quotient unit; `None` on exponent overflow.
    pub fn div(&self, other: &Unit) -> Option<Unit> {
        self.mul(&other.powr(Rational::int(-1))?)
    }

    /// The unit raised to a rational power; `None` on exponent overflow.
    pub fn powr(&self, p: Rational) -> Option<Unit> {
        let mut dims = self.dims;
        for d in dims.iter_mut() {
            *d = d.mul(p)?;
        }
        Some(Unit {
            dims,
            scale: self.scale.powf(p.to_f64()),
        })
    }
}

impl fmt::Display for Unit {
    /// SI form such as `m/s^2`, `kg·m^2/s^2`, `1` for dimensionless, with a leading factor
    /// when the scale is not 1 (`1000·m`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut numer = Vec::new();
        let mut denom = Vec::new();
        for (sym, d) in BASE_SYMBOLS.iter().zip(self.dims) {
            if d.num > 0 {
                numer.push(power(sym, d));
            } else if d.num < 0 {
                denom.push(power(
                    sym,
                    Rational {
                        num: -d.num,
                        den: d.den,
                    },
                ));
            }
        }
        let mut out = String::new();
        if !same_scale(self.scale, 1.0) {
            out.push_str(&format!("{}", self.scale));
            if !numer.is_empty() {
                out.push('·');
            }
        }
        if numer.is_empty() && out.is_empty() {
            out.push('1');
        }
        out.push_str(&numer.join("·"));
        match denom.len() {
            0 => {}
            1 => out.push_str(&format!("/{}", denom[0])),
            _ => out.push_str(&format!("/({})", denom.join("·"))),
        }
        f.write_str(&out)
    }
}

fn power(sym: &str, d: Rational) -> String {
    if d == Rational::int(1) {
        sym.to_string()
    } else {
        format!("{sym}^{d}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metre() -> Unit {
        Unit::base(0)
    }
    fn second() -> Unit {
        Unit::base(2)
    }

    #[test]
    fn acceleration_prints_as_si() {
        let a = metre()
            .div(&second().powr(Rational::int(2)).unwrap())
            .unwrap();
        assert_eq!(a.to_string(), "m/s^2");
    }

    #[test]
    fn square_root_is_exact() {
        let area = metre().mul(&metre()).unwrap();
        assert_eq!(area.powr(Rational::new(1, 2).unwrap()).unwrap(), metre());
        let half = second().powr(Rational::new(-1, 2).unwrap()).unwrap();
        assert_eq!(half.to_string(), "1/s^(1/2)");
    }

    #[test]
    fn scales_compare_relatively() {
        let gram = Unit::base(1).scaled(1e-3);
        assert_eq!(gram.scaled(1000.0), Unit::base(1));
        assert_ne!(gram, Unit::base(1));
        assert!(gram.same_dimension(&Unit::base(1)));
        assert_eq!(Unit::base(0).scaled(1000.0).to_string(), "1000·m");
    }

    #[test]
    fn dimensionless_prints_one() {
        assert_eq!(Unit::DIMENSIONLESS.to_string(), "1");
        assert!(Unit::DIMENSIONLESS.is_dimensionless());
    }
}
