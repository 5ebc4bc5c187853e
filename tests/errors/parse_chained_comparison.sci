// E0117: comparisons do not chain.
fn inside(x) = if 0 < x < 1 then 1 else 0
