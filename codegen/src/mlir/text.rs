//! Small pieces of MLIR's text syntax: exact float literals.

/// `x` as an MLIR float literal that parses back to the same bits: the shortest
/// round-trip decimal (with the `.` MLIR's grammar requires) for finite values, the bit
/// pattern in hex for infinities and NaN.
pub(super) fn f64_literal(x: f64) -> String {
    if !x.is_finite() {
        return format!("0x{:016X}", x.to_bits());
    }
    let s = format!("{x:e}");
    match s.split_once('e') {
        Some((m, e)) if !m.contains('.') => format!("{m}.0e{e}"),
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::f64_literal;

    #[test]
    fn literals_keep_every_bit() {
        assert_eq!(f64_literal(1.0), "1.0e0");
        assert_eq!(f64_literal(-0.0), "-0.0e0");
        assert_eq!(f64_literal(0.1), "1e-1".replace("1e", "1.0e"));
        assert_eq!(f64_literal(2.5e-300), "2.5e-300");
        assert_eq!(f64_literal(f64::INFINITY), "0x7FF0000000000000");
        for x in [
            0.1,
            1.0 / 3.0,
            6.02e23,
            -1e-310,
            f64::MAX,
            f64::MIN_POSITIVE,
        ] {
            let s = f64_literal(x);
            assert_eq!(s.parse::<f64>().unwrap().to_bits(), x.to_bits(), "{s}");
        }
    }
}
