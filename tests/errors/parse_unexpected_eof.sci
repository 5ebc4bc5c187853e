// E0114: the file ends in the middle of a function.
fn f(x) = x +
